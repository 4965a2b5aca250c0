"""Where a federation's relay override may point: the dispatcher connects wherever it says,
so a careless target is a way into the operator's network (cloud metadata on link-local
addresses, services on private ranges, any port on loopback)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from app.config import get_settings

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Fields of a federation that make up its relay override.
RELAY_FIELDS = ("smtp_host", "smtp_port", "smtp_username", "smtp_password", "smtp_security")


async def resolve(host: str) -> list[IpAddress]:
    """Every address `host` resolves to (an IP literal resolves to itself); [] if none."""
    try:
        return [_unmapped(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return [_unmapped(ipaddress.ip_address(info[4][0])) for info in infos]


def _unmapped(address: IpAddress) -> IpAddress:
    # ::ffff:169.254.169.254 reaches the IPv4 address it maps.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def address_problem(address: IpAddress, *, allow_private: bool) -> str | None:
    """Why a relay may not connect to `address`, or None."""
    if (
        address.is_link_local
        or address.is_multicast
        or address.is_unspecified
        or address.is_reserved
    ):
        return f"the relay host resolves to {address}, a link-local or reserved address"
    if address.is_global or allow_private:
        return None
    return (
        f"the relay host resolves to {address}, a private or loopback address; the operator "
        "may allow those with NEWSLETTER_RELAY_ALLOW_PRIVATE=true"
    )


async def target_problem(host: str) -> str | None:
    """Why a federation's relay may not be `host` (resolved now, every address checked)."""
    addresses = await resolve(host)
    if not addresses:
        return "the relay host name does not resolve"
    allow_private = get_settings().relay_allow_private
    for address in addresses:
        problem = address_problem(address, allow_private=allow_private)
        if problem:
            return problem
    return None
