"""Test helpers that are not fixtures: network fault injection around the fake servers."""
