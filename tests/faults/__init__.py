"""Helpers of the fault-injection suite: Stripe's own records, agreement checks, run-due kills."""
