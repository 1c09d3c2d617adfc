"""What the ingest tests share: a stand-in for DNS, since the internet cannot be reached here."""

from collections.abc import Sequence

NAMES = {
    "feeds.public.example": ["93.184.216.34"],
    "mirror.public.example": ["2606:4700::1111", "8.8.8.8"],
    "intranet.example": ["10.1.2.3"],
    "split.example": ["8.8.4.4", "192.168.0.7"],
    "metadata.example": ["fe80::1%eth0"],
    "printer.local": ["192.168.1.20"],
}
"""Made-up host names and the addresses they stand for: public, private and mixed."""


def resolve(host: str) -> Sequence[str]:
    """`host`'s addresses by `NAMES`; none for any other name."""
    return NAMES.get(host, [])
