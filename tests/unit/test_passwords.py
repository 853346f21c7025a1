"""Passwords are hashed with Argon2id at production strength."""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.profiles import RFC_9106_LOW_MEMORY

import webapp.accounts.service as service


def test_production_hasher_is_argon2id_with_rfc_9106_parameters():
    # the module's hasher, before the test fixture swaps in a cheap one
    production = PasswordHasher()
    assert production.type is Type.ID
    assert production.time_cost == RFC_9106_LOW_MEMORY.time_cost
    assert production.memory_cost == RFC_9106_LOW_MEMORY.memory_cost
    assert service.PasswordHasher is PasswordHasher


def test_a_cheap_test_hash_still_verifies_and_rehashes_on_login():
    # a hash made with other parameters is upgraded at the next successful log-in
    old = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("pw")
    assert PasswordHasher().check_needs_rehash(old)
