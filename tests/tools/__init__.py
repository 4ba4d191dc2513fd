"""Real signing tools driven from tests (openssl, gpg, ssh-keygen, minisign)."""
