#!/usr/bin/env python3
"""Writes the committed seed corpora under fuzz/corpus/ (run from the top).

Each seed is a small valid input that reaches deep into its target, so the
fuzzer starts from well-formed rings, frames and captures and mutates from
there."""
import struct, os

def put(target, name, data):
    with open(os.path.join("fuzz", "corpus", target, name), "wb") as f:
        f.write(data)

# vq_dev: byte 0 = size code | event_idx<<3 | indirect<<4, byte 1 = pops,
# then the descriptor table, then the avail ring (queue size 4: code 1).
def desc(addr, ln, flags, nxt):
    return struct.pack("<QIHH", addr, ln, flags, nxt)
base = 0x40000000
buf = base + 0x1000
table = desc(buf, 12, 1, 1) + desc(buf + 12, 1514, 2, 0) + desc(0, 0, 0, 0) * 2
avail = struct.pack("<HH4HH", 0, 1, 0, 0, 0, 0, 0)
put("vq_dev", "two_segment_chain", bytes([1 | 1 << 3, 4]) + table + avail)
ind_table = desc(buf + 0x100, 12, 1, 1) + desc(buf + 0x200, 100, 0, 0)
table = desc(buf + 0x40, 32, 4, 0) + desc(0, 0, 0, 0) * 3
put("vq_dev", "indirect_chain", bytes([1 | 1 << 4, 2]) + table + avail)
loop = desc(buf, 16, 1, 1) + desc(buf, 16, 1, 0) + desc(0, 0, 0, 0) * 2
put("vq_dev", "descriptor_loop", bytes([1, 2]) + loop + avail)

# vq_drv: size code, buffers to offer, then (used.idx le16, id le32, len le32)
put("vq_drv", "in_order", bytes([2, 4]) + b"".join(
    struct.pack("<HII", i + 1, i, 64) for i in range(4)))
put("vq_drv", "bad_id_and_len", bytes([2, 4]) + struct.pack("<HII", 1, 9, 64) +
    struct.pack("<HII", 2, 1, 5000))

# stack: (le16 length, frame) pairs
guest_mac = bytes.fromhex("525400123456")
host_mac = bytes.fromhex("52550a000202")
def ip4(s): return bytes(int(x) for x in s.split("."))
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff
arp = (b"\xff" * 6 + host_mac + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) +
       host_mac + ip4("10.0.2.2") + b"\0" * 6 + ip4("10.0.2.15"))
icmp = struct.pack("!BBHHH", 8, 0, 0, 0x1234, 1) + bytes(range(32))
icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), 1, 0x4000, 64, 1, 0,
                  ip4("10.0.2.2"), ip4("10.0.2.15"))
iph = iph[:10] + struct.pack("!H", csum(iph)) + iph[12:]
echo = guest_mac + host_mac + b"\x08\x00" + iph + icmp
def framed(*frames): return b"".join(struct.pack("<H", len(f)) + f for f in frames)
put("stack", "arp_then_ping", framed(arp, echo))
udp = struct.pack("!HHHH", 40000, 7, 8 + 5, 0) + b"hello"
uiph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 2, 0x4000, 64, 17, 0,
                   ip4("10.0.2.2"), ip4("10.0.2.15"))
uiph = uiph[:10] + struct.pack("!H", csum(uiph)) + uiph[12:]
put("stack", "arp_then_udp", framed(arp, guest_mac + host_mac + b"\x08\x00" + uiph + udp))

# pcap: classic nanosecond pcap and a minimal pcapng, both with the ARP frame
pcap = struct.pack("<IHHiIII", 0xa1b23c4d, 2, 4, 0, 0, 65535, 1)
for i, f in enumerate((arp, echo)):
    pcap += struct.pack("<IIII", 1700000000, i * 1000, len(f), len(f)) + f
put("pcap", "two_frames.pcap", pcap)
def block(btype, body):
    ln = 12 + len(body)
    return struct.pack("<II", btype, ln) + body + struct.pack("<I", ln)
shb = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
idb = block(1, struct.pack("<HHI", 1, 0, 65535))
pad = arp + b"\0" * ((4 - len(arp) % 4) % 4)
epb = block(6, struct.pack("<IIIII", 0, 0, 1000, len(arp), len(arp)) + pad)
put("pcap", "one_frame.pcapng", shb + idb + epb)
