#!/usr/bin/env python3
"""Writes a pcap of an ARP request from 10.0.2.2 (so the guest learns where to
answer) and then N ICMP echo requests from it to the guest's default address
(10.0.2.15, 52:54:00:12:34:56), one every 10 us, for replay benchmarks.
Usage: bench/gen_echo_pcap.py N OUT.pcap"""
import struct
import sys

GUEST_MAC = bytes([0x52, 0x54, 0x00, 0x12, 0x34, 0x56])
HOST_MAC = bytes([0x52, 0x55, 0x0A, 0x00, 0x02, 0x02])
HOST_IP = bytes([10, 0, 2, 2])
GUEST_IP = bytes([10, 0, 2, 15])
GAP_US = 10
PAYLOAD = bytes(range(56))


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame(seq):
    icmp = struct.pack("!BBHHH", 8, 0, 0, 0x1234, seq & 0xFFFF) + PAYLOAD
    icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), seq & 0xFFFF, 0, 64, 1, 0,
                     HOST_IP, GUEST_IP)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return GUEST_MAC + HOST_MAC + b"\x08\x00" + ip + icmp


def arp_request():
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, HOST_MAC, HOST_IP, bytes(6), GUEST_IP)
    return b"\xff" * 6 + HOST_MAC + b"\x08\x06" + arp


def record(f, t_us, fr):
    f.write(struct.pack("<IIII", t_us // 1000000, t_us % 1000000, len(fr), len(fr)))
    f.write(fr)


def main():
    n, path = int(sys.argv[1]), sys.argv[2]
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        record(f, 0, arp_request())
        for i in range(n):
            record(f, (i + 1) * GAP_US, frame(i))


if __name__ == "__main__":
    main()
