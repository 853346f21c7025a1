"""`make bench`: every benchmark, one after the other, printing numbers."""

from bench import slots, webhooks

if __name__ == "__main__":
    slots.main()
    print()
    webhooks.main()
