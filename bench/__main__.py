"""`make bench`: every benchmark, one after the other, printing numbers."""

from bench import calendars, capture, cli_startup, public_pages, run_due, slots, webhooks

if __name__ == "__main__":
    slots.main()
    print()
    calendars.main()
    print()
    webhooks.main()
    print()
    run_due.main()
    print()
    capture.main()
    print()
    public_pages.main()
    print()
    cli_startup.main()
