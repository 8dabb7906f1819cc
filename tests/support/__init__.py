"""Test harness pieces: a real PostgreSQL cluster, real servers on loopback."""
