#!/usr/bin/env python3
"""Writes the committed seed corpora under fuzz/corpus/ (run from the top).

Each seed is a small valid input that reaches deep into its target, so the
fuzzer starts from well-formed rings, frames and captures and mutates from
there."""
import struct, os

def put(target, name, data):
    if target == "stack": data = bytes([name.endswith("_small") and 1 or 0]) + data
    with open(os.path.join("fuzz", "corpus", target, name), "wb") as f:
        f.write(data)

# vq_dev: byte 0 = size code | event_idx<<3 | indirect<<4, byte 1 = how far
# below 65536 both sides start, then operations (opcode byte + arguments, see
# fuzz_vq_dev.c). Each seed crosses the 16-bit wrap of the indices.
DESC, SLOT, OFFER, STEP, RAW, POP, PUSH, PUBLISH, BYTES, SUPPRESS = range(10)
def offer(head, nseg=1, writable=True, indirect=False):
    return bytes([OFFER, head, (nseg - 1) | writable << 2 | indirect << 3])
def pop(push_now=True): return bytes([POP, 1 if push_now else 0])
def publish(enable=True): return bytes([PUBLISH, 1 if enable else 0])
round_trip = b"".join(offer(h % 4, 2) + pop() + publish() for h in range(6))
put("vq_dev", "wrap_round_trips", bytes([1 | 1 << 3, 3]) + round_trip)
# two offers, pop one and hold it, the driver rewrites the second slot (to a
# head it never offered) before the next pop, then pushes out of order
rewrite = (offer(0) + offer(1) + pop(False) + bytes([SLOT, 0xff, 2, 0]) + pop(False) +
           bytes([PUSH, 1, 64, 0, PUSH, 0, 64, 0]) + publish())
put("vq_dev", "slot_rewritten_between_pops", bytes([1, 1]) + rewrite)
indirect = b"".join(offer(h, 3, True, True) + pop() + publish() for h in range(4))
put("vq_dev", "indirect_chains", bytes([2 | 1 << 4, 2]) + indirect)
# avail.idx moved back after a scan, then forward again
backwards = (offer(0) + offer(1) + offer(2) + pop(False) + bytes([STEP, 0xfe]) + pop() +
             bytes([STEP, 2]) + pop() + publish())
put("vq_dev", "avail_idx_backwards", bytes([2, 2]) + backwards)
loop = (bytes([DESC, 0, 0, 0, 16, 0, 1, 1, DESC, 1, 0, 0, 16, 0, 1, 0, SLOT, 0, 0, 0, STEP, 1])
        + pop())
put("vq_dev", "descriptor_loop", bytes([1, 1]) + loop)

# vq_drv: byte 0 = size code | indirect<<3 | event_idx<<4, byte 1 = how far
# below 65536 both sides start, then operations (see fuzz_vq_drv.c).
(ADD, PUBLISH, GET, ELEM, IDX_STEP, IDX_RAW, HONEST, INTERRUPT, DSUPPRESS,
 TAKE_AT) = range(10)
def add(n_out, n_in, huge=False): return bytes([ADD, n_out | n_in << 2 | huge << 4])
def honest(which=0, frac=255): return bytes([HONEST, which, frac])
cycle = b"".join(add(1, 1) + bytes([PUBLISH]) + honest() + bytes([GET, 0]) for _ in range(6))
put("vq_drv", "wrap_round_trips", bytes([2 | 1 << 4, 3]) + cycle)
# the device writes an element and moves used.idx separately, with a bad id,
# a length over the chain, used.idx backwards and a jump
def elem(off, id_, ln): return bytes([ELEM, off & 0xff]) + struct.pack("<HI", id_, ln)
hostile = (add(1, 1) * 3 + bytes([PUBLISH]) + elem(0, 9, 8) + bytes([IDX_STEP, 1, GET, 0]) +
           elem(0, 1, 5000) + bytes([IDX_STEP, 1, GET, 0, IDX_STEP, 0xfe, GET, 0]) +
           bytes([IDX_STEP, 40, GET, 0]) + honest() + bytes([GET, 3]))
put("vq_drv", "hostile_device", bytes([2, 2]) + hostile)
indirect = b"".join(add(2, 2) + bytes([PUBLISH]) + honest(0, 128) + bytes([INTERRUPT, 1, GET, 1])
                    for _ in range(4))
put("vq_drv", "indirect_chains", bytes([3 | 1 << 3, 2]) + indirect)
out_of_order = (add(0, 1) * 4 + bytes([PUBLISH]) + honest(3) + honest(1) + bytes([TAKE_AT, 1]) +
                bytes([GET, 7]))
put("vq_drv", "out_of_order", bytes([2, 1]) + out_of_order)

# stack: a host-side program (see fuzz_stack.c): TCP operations that keep
# each connection's sequence numbers, raw frames, UDP, time.
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
(SYN, ACK, DATA, HTTP, SEG, FIN, RST, TIME, RAWF, WINDOW, UDP) = range(11)
def framed(*frames): return b"".join(bytes([RAWF]) + struct.pack("<H", len(f)) + f for f in frames)
put("stack", "arp_then_ping", framed(arp, echo))
udp = struct.pack("!HHHH", 40000, 7, 8 + 5, 0) + b"hello"
uiph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 2, 0x4000, 64, 17, 0,
                   ip4("10.0.2.2"), ip4("10.0.2.15"))
uiph = uiph[:10] + struct.pack("!H", csum(uiph)) + uiph[12:]
put("stack", "arp_then_udp", framed(arp, guest_mac + host_mac + b"\x08\x00" + uiph + udp))
PORT_HTTP, PORT_ECHO, PORT_DISCARD, PORT_CLOSED = range(4)
def syn(k, port, mss=0): return bytes([SYN, k, port, mss])
def data(k, payload, fin=False): return bytes([DATA, k, int(fin), len(payload)]) + payload
put("stack", "http_get_index", syn(0, PORT_HTTP) + bytes([ACK, 0, HTTP, 0, 0, ACK, 0, FIN, 0]) +
    bytes([TIME, 2, ACK, 0]))
put("stack", "http_get_stats", syn(1, PORT_HTTP, 3) + bytes([ACK, 1, HTTP, 1, 1, ACK, 1]) +
    bytes([TIME, 0x81, ACK, 1]))
put("stack", "tcp_echo_then_close", syn(2, PORT_ECHO) + bytes([ACK, 2]) + data(2, b"hello, echo") +
    bytes([ACK, 2]) + data(2, b"bye", True) + bytes([ACK, 2, TIME, 0x82]))
# in the window but out of order: the hole is filled afterwards
def seg(k, flags, seq_off, ack_off, win, payload, opts=b""):
    return (bytes([SEG, k, flags]) + struct.pack("<hhHBB", seq_off, ack_off, win, len(opts),
                                                  len(payload)) + opts + payload)
put("stack", "tcp_out_of_order_small", syn(3, PORT_DISCARD) + bytes([ACK, 3]) +
    seg(3, 0x18, 4, 0, 65535, b"5678") + data(3, b"1234") + bytes([ACK, 3, RST, 3, 0]))
put("stack", "tcp_zero_window_echo_small", syn(0, PORT_ECHO, 1) + bytes([WINDOW, 0, 0, 0, ACK, 0]) +
    data(0, b"x" * 200) + bytes([TIME, 0x81, WINDOW, 0, 0xff, 0xff, ACK, 0, TIME, 0x83]))
# the server's FIN crosses ours: our FIN does not acknowledge theirs (CLOSING)
put("stack", "http_simultaneous_close", syn(2, PORT_HTTP) + bytes([ACK, 2, HTTP, 2, 0]) +
    seg(2, 0x11, 0, -1, 65535, b"") + bytes([TIME, 0, ACK, 2, TIME, 0x81]))
put("stack", "tcp_closed_port_and_udp", syn(1, PORT_CLOSED) + bytes([UDP, 1, 4]) + b"ping" +
    bytes([UDP, 0, 2]) + b"no")
# IPv6 (RFC 8200) as raw frames: a Neighbor Solicitation for the guest's
# link-local address, then an echo request, a UDP datagram and a TCP SYN to it
guest_ll = bytes.fromhex("fe80000000000000505400fffe123456")
host_ll = bytes.fromhex("fe800000000000000000000000000002")
def ip6(nh, payload, dst=guest_ll, hop=64, eth_dst=guest_mac):
    at = {58: 2, 17: 6, 6: 16}[nh]
    ps = host_ll + dst + struct.pack("!IxxxB", len(payload), nh)
    payload = payload[:at] + struct.pack("!H", csum(ps + payload)) + payload[at + 2:]
    return (eth_dst + host_mac + b"\x86\xdd" + struct.pack("!IHBB", 6 << 28, len(payload), nh, hop) +
            host_ll + dst + payload)
ns6 = ip6(58, struct.pack("!BBHI", 135, 0, 0, 0) + guest_ll + b"\x01\x01" + host_mac,
          dst=bytes.fromhex("ff0200000000000000000001ff123456"), hop=255,
          eth_dst=bytes.fromhex("3333ff123456"))
echo6 = ip6(58, struct.pack("!BBHHH", 128, 0, 0, 7, 1) + b"ping6")
udp6 = ip6(17, struct.pack("!HHHH", 40000, 7, 13, 0) + b"hello")
syn6 = ip6(6, struct.pack("!HHIIBBHHH", 40001, 8023, 1000, 0, 5 << 4, 2, 65535, 0, 0))
put("stack", "ipv6_nd_echo_udp_syn", framed(ns6, echo6, udp6, syn6))

# live: byte 0 = queue size code | seed << 2, then operations (see
# fuzz_live.c): frames as slirp sends them, waits, bursts.
LFRAME, LWAIT, LWAIT_LONG, LBURST = range(4)
def ipv4(proto, payload, ident=3):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0x4000, 64, proto, 0,
                    ip4("10.0.2.2"), ip4("10.0.2.15"))
    return guest_mac + host_mac + b"\x08\x00" + h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload
def tcp(sport, dport, seq, ack, flags, payload=b"", opts=b""):
    hl = 20 + len(opts)
    t = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, hl // 4 << 4, flags, 65535, 0, 0) + opts
    pseudo = ip4("10.0.2.2") + ip4("10.0.2.15") + struct.pack("!BBH", 0, 6, len(t) + len(payload))
    c = csum(pseudo + t + payload)
    return ipv4(6, t[:16] + struct.pack("!H", c) + t[18:] + payload)
arp_reply = (guest_mac + host_mac + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2) +
             host_mac + ip4("10.0.2.2") + guest_mac + ip4("10.0.2.15"))
pong = struct.pack("!BBHHH", 0, 0, 0, 0x6775, 1) + bytes(56)
pong = ipv4(1, pong[:2] + struct.pack("!H", csum(pong)) + pong[4:])
def lframe(f): return bytes([LFRAME]) + struct.pack("<H", len(f)) + f
def lwait(us): return bytes([LWAIT]) + struct.pack("<H", us)
put("live", "gateway_ping_answered", bytes([0]) + lframe(arp_reply) + lwait(300) + lframe(pong) +
    lwait(1000))
syn = tcp(50000, 8023, 1000, 0, 0x02, opts=bytes([2, 4, 0x05, 0xb4]))
put("live", "forwarded_connects", bytes([1 | 3 << 2]) + lframe(arp_reply) + lwait(50) + lframe(syn) +
    lwait(2000) + lframe(tcp(50001, 80, 7000, 0, 0x02)) + bytes([LWAIT_LONG, 12]))
put("live", "burst_past_the_ring", bytes([0]) + lframe(arp_reply) + bytes([LBURST, 15]) +
    struct.pack("<H", len(echo)) + echo + bytes([LBURST, 15]) + struct.pack("<H", len(arp)) + arp +
    lwait(5) + lframe(b"\0" * 10) + lwait(65535))

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
# pcapng with interfaces of different link types, read block by block
# (host/pcapng.c): Ethernet in ns, Linux cooked v2 in ms with an offset,
# raw IP in 2^-10 s; a simple and an obsolete packet block, an unknown one,
# a record of an interface with no description, then a big-endian section
def opt(code, val): return struct.pack("<HH", code, len(val)) + val + b"\0" * ((4 - len(val) % 4) % 4)
def padded(f): return f + b"\0" * ((4 - len(f) % 4) % 4)
idb_ns = block(1, struct.pack("<HHI", 1, 0, 0) + opt(9, b"\x09") + opt(0, b""))
idb_sll2 = block(1, struct.pack("<HHI", 276, 0, 262144) + opt(9, b"\x03") +
                 opt(14, struct.pack("<q", 1700000000)) + opt(0, b""))
idb_raw = block(1, struct.pack("<HHI", 101, 0, 0) + opt(9, b"\x8a") + opt(0, b""))
ip_echo = echo[14:]
sll2 = struct.pack("!HHIHBB", 0x0800, 0, 1, 1, 0, 6) + host_mac + b"\0\0" + ip_echo
def epb_of(iface, ts, f):
    return block(6, struct.pack("<IIIII", iface, ts >> 32, ts & 0xffffffff, len(f), len(f)) + padded(f))
mixed = (shb + idb_ns + idb_sll2 + idb_raw + epb_of(0, 1700000000 * 10**9, echo) +
         epb_of(1, 1, sll2) + epb_of(2, 1700000000 * 1024 + 3, ip_echo) +
         block(3, struct.pack("<I", len(arp)) + pad) +
         block(2, struct.pack("<HHIIII", 1, 0, 0, 5, len(sll2), len(sll2)) + padded(sll2)) +
         block(0x0bad, b"\1\2\3\4") + epb_of(7, 9, echo))
def bblock(btype, body):
    ln = 12 + len(body)
    return struct.pack(">II", btype, ln) + body + struct.pack(">I", ln)
mixed += (bblock(0x0A0D0D0A, struct.pack(">IHHq", 0x1A2B3C4D, 1, 0, -1)) +
          bblock(1, struct.pack(">HHI", 113, 0, 0)) +
          bblock(6, struct.pack(">IIIII", 0, 0, 77, 16 + len(ip_echo), 16 + len(ip_echo)) +
                 padded(struct.pack("!HHHQH", 0, 1, 6, 0, 0x0800) + ip_echo)))
put("pcap", "mixed_interfaces.pcapng", mixed)
# more frames than a replay's ring and backlog hold, some out of order and
# one truncated: the whole capture must be accounted, frame by frame
def pcap_file(records, magic=0xa1b23c4d):
    out = struct.pack("<IHHiIII", magic, 2, 4, 0, 0, 65535, 1)
    for sec, sub, f, orig in records:
        out += struct.pack("<IIII", sec, sub, len(f), orig) + f
    return out
many = [(1700000000, i * 20000, (arp, echo)[i % 2], len((arp, echo)[i % 2])) for i in range(80)]
many[40] = (1700000000, 5, echo, len(echo))          # earlier than its predecessor
many[41] = (1700000000, 820000, echo[:30], len(echo))  # truncated by the capture
put("pcap", "eighty_frames.pcap", pcap_file(many))
put("pcap", "microseconds.pcap", pcap_file([(1700000000, 1, arp, len(arp)),
                                            (1700000000, 999999, echo, len(echo))], 0xa1b2c3d4))

# the client's readers (fuzz_client): byte 0 picks DHCP, DNS, HTTP or text
def dhcp_reply(type_):
    head = bytes([2, 1, 6, 0]) + struct.pack("!I", 77) + bytes(8) + ip4("10.0.2.15") + bytes(8)
    head += bytes.fromhex("525400123456") + bytes(10 + 64 + 128) + bytes([99, 130, 83, 99])
    opts = bytes([53, 1, type_, 54, 4]) + ip4("10.0.2.2") + bytes([51, 4, 0, 1, 0x51, 0x80, 1, 4,
                                                                   255, 255, 255, 0, 3, 4]) + ip4("10.0.2.2")
    return head + opts + bytes([6, 4]) + ip4("10.0.2.3") + bytes([255])
put("client", "dhcp_offer", bytes([0]) + dhcp_reply(2))
put("client", "dhcp_ack", bytes([0]) + dhcp_reply(5))
qname = b"\x03www\x07example\x04test\x00"
question = qname + struct.pack("!HH", 1, 1)
def dns(flags, an, answers):
    return struct.pack("!HHHHHH", 0x4242, flags, 1, an, 0, 0) + question + answers
arec = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + ip4("127.0.0.1")
cname = b"\xc0\x0c" + struct.pack("!HHIH", 5, 1, 60, 6) + b"\x03srv\xc0\x10"
asrv = b"\xc0" + bytes([12 + len(question) + 12]) + struct.pack("!HHIH", 1, 1, 60, 4) + ip4("10.0.2.2")
put("client", "dns_a", bytes([1, 1]) + dns(0x8180, 1, arec))
put("client", "dns_cname", bytes([1, 1]) + dns(0x8180, 2, cname + asrv))
put("client", "dns_nxdomain", bytes([1, 1]) + dns(0x8183, 0, b""))
put("client", "dns_loop", bytes([1, 1]) + dns(0x8180, 1, b"\xc0" + bytes([12 + len(question)]) + arec[2:]))
put("client", "http_length", bytes([2]) + bytes(range(1, 9)) + b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
put("client", "http_chunked", bytes([2]) + b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"4;x=1\r\nwiki\r\n5\r\npedia\r\n0\r\nT: 1\r\n\r\n")
put("client", "http_close", bytes([2]) + b"HTTP/1.0 100 Continue\r\n\r\nHTTP/1.0 404 Nope\r\n\r\nbody")
put("client", "text_get", bytes([3]) + b"get http://www.example.test:8000/f?x#y")
put("client", "text_tcp", bytes([3]) + b"tcp 10.0.2.2:9000 hello\\x00\\n")
