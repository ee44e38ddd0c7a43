"""Crafted capture files for the hostile-input suite: frames, classic pcap
and pcapng, written byte by byte from the formats' specifications (the
tcpdump.org pcap page, draft-ietf-opsawg-pcapng), independently of the
readers under test, so that a file can be as wrong as its test needs."""

import struct

GUEST_IP = (10, 0, 2, 15)
HOST_IP = (10, 0, 2, 2)
GUEST_MAC = bytes.fromhex("525400123456")
HOST_MAC = bytes.fromhex("525500000002")
BROADCAST = b"\xff" * 6

# LINKTYPE_ values as a file stores them
LT_ETHERNET = 1
LT_NULL = 0
LT_RAW = 101
LT_LOOP = 108
LT_LINUX_SLL = 113
LT_IEEE802_11 = 105
LT_IPV4 = 228
LT_IPV6 = 229
LT_LINUX_SLL2 = 276
LT_UNKNOWN = 4000  # no link type has this number

ETH_IPV4 = 0x0800
ETH_ARP = 0x0806
ETH_IPV6 = 0x86DD
ETH_VLAN = 0x8100
ETH_QINQ = 0x88A8


def csum(data):
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def eth(payload, ethertype=ETH_IPV4, dst=GUEST_MAC, src=HOST_MAC):
    return dst + src + struct.pack("!H", ethertype) + payload


def vlan_tags(frame, tags):
    """frame with 802.1Q/QinQ tags (a list of (tpid, vid)) after its MACs."""
    tagged = b"".join(struct.pack("!HH", tpid, vid) for tpid, vid in tags)
    return frame[:12] + tagged + frame[12:]


def arp_request(spa=HOST_IP, tpa=GUEST_IP, sha=HOST_MAC):
    return struct.pack("!HHBBH", 1, ETH_IPV4, 6, 4, 1) + sha + bytes(spa) + b"\0" * 6 + bytes(tpa)


def arp_frame(**kw):
    return eth(arp_request(**kw), ETH_ARP, dst=BROADCAST)


def ipv4(payload, proto=1, src=HOST_IP, dst=GUEST_IP, ihl=5, total=None, check=None, frag=0,
         ident=1):
    """An IPv4 packet; ihl, total, check and frag (flags and offset) may lie."""
    opts = b"\x01" * (max(ihl, 5) * 4 - 20)  # NOPs
    total = 20 + len(opts) + len(payload) if total is None else total
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | (ihl & 15), 0, total & 0xFFFF, ident, frag, 64,
                      proto, 0, bytes(src), bytes(dst)) + opts
    if check is None:
        check = csum(hdr)
    return hdr[:10] + struct.pack("!H", check) + hdr[12:] + payload


def icmp_echo(seq=1, data=b"hostile!"):
    body = struct.pack("!BBHHH", 8, 0, 0, 0x1234, seq) + data
    return body[:2] + struct.pack("!H", csum(body)) + body[4:]


def ping_frame(seq=1, **kw):
    return eth(ipv4(icmp_echo(seq), **kw))


def tcp(sport=40000, dport=8023, flags=0x02, offset=5, src=HOST_IP, dst=GUEST_IP, payload=b""):
    """A TCP segment, its checksum right; offset (in words) may lie."""
    opts = b"\x01" * max(0, offset * 4 - 20) if offset <= 15 else b""
    seg = struct.pack("!HHIIBBHHH", sport, dport, 1000, 0, (offset & 15) << 4, flags, 65535, 0,
                      0) + opts + payload
    pseudo = bytes(src) + bytes(dst) + struct.pack("!BBH", 0, 6, len(seg))
    return seg[:16] + struct.pack("!H", csum(pseudo + seg)) + seg[18:]


def tcp_frame(**kw):
    ip_kw = {k: kw.pop(k) for k in ("ihl", "total", "check", "frag") if k in kw}
    return eth(ipv4(tcp(**kw), proto=6, **ip_kw))


# --- classic pcap ----------------------------------------------------------

MAGIC_USEC = 0xA1B2C3D4
MAGIC_NSEC = 0xA1B23C4D
MAGIC_KUZNETZOV = 0xA1B2CD34  # "modified" pcap: 8 more bytes per record


def pcap_header(magic=MAGIC_USEC, big=False, snaplen=65535, linktype=LT_ETHERNET, major=2,
                minor=4):
    e = ">" if big else "<"
    return struct.pack(e + "IHHiIII", magic, major, minor, 0, 0, snaplen, linktype)


def pcap_record(data, sec=1_600_000_000, frac=0, caplen=None, origlen=None, big=False,
                magic=MAGIC_USEC):
    """One record; caplen/origlen default to the data's length and may lie."""
    e = ">" if big else "<"
    caplen = len(data) if caplen is None else caplen
    origlen = len(data) if origlen is None else origlen
    hdr = struct.pack(e + "IIII", sec, frac, caplen, origlen)
    if magic == MAGIC_KUZNETZOV:
        hdr += struct.pack(e + "iHBB", 1, ETH_IPV4, 0, 0)
    return hdr + data


def pcap(frames, magic=MAGIC_USEC, big=False, snaplen=65535, linktype=LT_ETHERNET, t0=1_600_000_000,
         step_us=1000):
    """A whole file: each frame a record, step_us apart."""
    out = pcap_header(magic, big, snaplen, linktype)
    nano = magic == MAGIC_NSEC
    for i, f in enumerate(frames):
        us = i * step_us
        frac = (us % 1_000_000) * (1000 if nano else 1)
        out += pcap_record(f, t0 + us // 1_000_000, frac, big=big, magic=magic)
    return out


def guest_frames(n=3):
    """A small conversation the guest answers: an ARP request, then pings."""
    return [arp_frame()] + [ping_frame(seq=i) for i in range(1, n)]


# --- link types other than Ethernet ------------------------------------------


def sll(payload, proto=ETH_IPV4):
    """Linux cooked v1: packet type, ARPHRD, address length, 8 address bytes, protocol."""
    return struct.pack("!HHH8sH", 0, 1, 6, HOST_MAC + b"\0\0", proto) + payload


def sll2(payload, proto=ETH_IPV4):
    """Linux cooked v2: protocol, reserved, ifindex, ARPHRD, type, address length, address."""
    return struct.pack("!HHIHBB8s", proto, 0, 1, 1, 0, 6, HOST_MAC + b"\0\0") + payload


def null_loop(payload, family=2, big=False):
    return struct.pack(">I" if big else "<I", family) + payload


# --- pcapng ------------------------------------------------------------------

BT_SHB = 0x0A0D0D0A
BT_IDB = 1
BT_PB = 2
BT_SPB = 3
BT_EPB = 6
BOM = 0x1A2B3C4D


def pad4(b):
    return b + b"\0" * (-len(b) % 4)


def block(btype, body, big=False, length=None, trailer=None):
    """A block; length and trailer default to the right total and may lie."""
    e = ">" if big else "<"
    body = pad4(body)
    total = 12 + len(body)
    head = struct.pack(e + "II", btype, total if length is None else length)
    return head + body + struct.pack(e + "I", total if trailer is None else trailer)


def option(code, value, big=False, length=None):
    e = ">" if big else "<"
    return struct.pack(e + "HH", code, len(value) if length is None else length) + pad4(value)


def end_of_options(big=False):
    return option(0, b"", big)


def shb(big=False, major=1, bom=BOM):
    e = ">" if big else "<"
    return block(BT_SHB, struct.pack(e + "IHHq", bom, major, 0, -1), big)


def idb(linktype=LT_ETHERNET, snaplen=0, tsresol=None, tsoffset=None, big=False, options=b""):
    e = ">" if big else "<"
    opts = options
    if tsresol is not None:
        opts += option(9, bytes([tsresol]), big)
    if tsoffset is not None:
        opts += option(14, struct.pack(e + "q", tsoffset), big)
    if opts:
        opts += end_of_options(big)
    return block(BT_IDB, struct.pack(e + "HHI", linktype, 0, snaplen) + opts, big)


def epb(data, iface=0, ticks=1_600_000_000_000_000, big=False, caplen=None, origlen=None):
    e = ">" if big else "<"
    caplen = len(data) if caplen is None else caplen
    origlen = len(data) if origlen is None else origlen
    fixed = struct.pack(e + "IIIII", iface, ticks >> 32, ticks & 0xFFFFFFFF, caplen, origlen)
    return block(BT_EPB, fixed + data, big)


def spb(data, big=False, origlen=None):
    e = ">" if big else "<"
    return block(BT_SPB, struct.pack(e + "I", len(data) if origlen is None else origlen) + data, big)


def pcapng(frames, big=False, linktype=LT_ETHERNET, tsresol=None, step_us=1000):
    """One section, one interface, each frame an Enhanced Packet."""
    out = shb(big) + idb(linktype, 0, tsresol, big=big)
    for i, f in enumerate(frames):
        out += epb(f, ticks=1_600_000_000_000_000 + i * step_us, big=big)
    return out
