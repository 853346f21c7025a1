"""Imports every module that registers due work."""
