"""Crafted pcap and pcapng files: each is either refused (exit 2, one line
naming the file and the problem, outputs untouched) or read, every frame
read then getting exactly one fate."""

import struct

import capgen as g
from harness import need

OUTS = ("keep.pcap", "keep.jsonl", "keep.html")


def refused(h, name, data, names=(), code=2, extra=()):
    """The file is refused before anything is written."""
    h.write(name, data)
    untouched = h.keep_files(OUTS)
    r = h.run(["replay", name, "-o", OUTS[0], "--trace", OUTS[1], "--html", OUTS[2]] + list(extra))
    h.refused(r, code, names=(name,) + tuple(names), once=(name,))
    untouched(r)


def reads(h, name, data, frames, fates=None, notes=None, extra=(), out_frames=None, out=True):
    """The file is read, its `frames` frames each get one fate, and what the
    guest sent is a capture Wireshark reads."""
    h.write(name, data)
    out = name + ".out.pcap" if out else None
    r = h.run(["replay", name, "--json"] + (["-o", out] if out else []) + list(extra))
    need(r.rc == 0, "%s: expected exit 0" % r)
    need(r.err == "", "%s: a run that completed printed on stderr" % r)
    h.ledger(r, frames, fates, notes)
    return h.pcap_readable(h.path(out), out_frames) if out else None


def answered(n):
    return {"answered": n}


# --- classic pcap ------------------------------------------------------------


def pcap_headers(h):
    ok = g.guest_frames(3)
    h.case("pcap: empty file", refused, h, "empty.pcap", b"", ["truncated"])
    h.case("pcap: global header cut at 10 bytes", refused, h, "short-hdr.pcap",
           g.pcap(ok)[:10], ["truncated"])
    h.case("pcap: global header cut at 23 bytes", refused, h, "short-hdr23.pcap",
           g.pcap(ok)[:23], ["truncated"])
    h.case("pcap: bad magic", refused, h, "bad-magic.pcap",
           b"\xde\xad\xbe\xef" + g.pcap(ok)[4:], ["unknown file format"])
    h.case("pcap: text file", refused, h, "text.pcap", b"hello, I am not a capture\n" * 4,
           ["unknown file format"])
    h.case("pcap: major version 3", refused, h, "v3.pcap",
           g.pcap_header(major=3) + g.pcap(ok)[24:], ["version"])
    for magic, mname in ((g.MAGIC_USEC, "usec"), (g.MAGIC_NSEC, "nsec"),
                         (g.MAGIC_KUZNETZOV, "modified")):
        for big in (False, True):
            name = "magic-%s-%s.pcap" % (mname, "be" if big else "le")
            h.case("pcap: %s magic, %s-endian" % (mname, "big" if big else "little"), reads, h,
                   name, g.pcap(ok, magic=magic, big=big), 3, answered(3), out_frames=3)
    for snaplen, what in ((0, "0"), (0xFFFFFFFF, "2^32-1"), (0x7FFFFFFF, "2^31-1")):
        h.case("pcap: snaplen %s" % what, reads, h, "snaplen-%d.pcap" % snaplen,
               g.pcap(ok, snaplen=snaplen), 3, answered(3))


def one_record(data, **kw):
    return g.pcap_header(snaplen=kw.pop("snaplen", 65535)) + g.pcap_record(data, **kw)


def pcap_records(h):
    ping = g.ping_frame()
    arp = g.arp_frame()
    # libpcap reads a record longer than the snapshot length but within its
    # link type's maximum (the Solaris BUFMOD case): its first snaplen bytes
    h.case("pcap: caplen > snaplen", reads, h, "cap-gt-snap.pcap",
           one_record(ping + b"\0" * 100, snaplen=64), 1, notes={"frames_truncated": 1})
    h.case("pcap: caplen > 256 KiB", refused, h, "cap-huge.pcap",
           one_record(b"\0" * 16, caplen=262145), ["frame 1", "262145"])
    h.case("pcap: caplen 2^32-1", refused, h, "cap-max.pcap",
           one_record(b"\0" * 16, caplen=0xFFFFFFFF), ["frame 1"])
    h.case("pcap: caplen > origlen", reads, h, "cap-gt-orig.pcap", one_record(ping, origlen=20),
           1, answered(1), {"frames_truncated": 0})
    h.case("pcap: origlen 0", reads, h, "orig0.pcap", one_record(arp, origlen=0), 1, answered(1),
           {"frames_truncated": 0})
    h.case("pcap: origlen 2^32-1 (truncated)", reads, h, "orig-max.pcap",
           one_record(arp, origlen=0xFFFFFFFF), 1, answered(1), {"frames_truncated": 1})
    # a converted record's wire length grows or shrinks with its header
    sll_arp = g.sll(g.arp_request(), g.ETH_ARP)
    raw_ping = g.ipv4(g.icmp_echo())
    for lt, rec, what in ((g.LT_LINUX_SLL, sll_arp, "sll"), (g.LT_RAW, raw_ping, "raw"),
                          (g.LT_ETHERNET, g.vlan_tags(arp, [(g.ETH_VLAN, 1)]), "vlan")):
        hdr = g.pcap_header(linktype=lt)
        h.case("pcap: %s record, origlen 0" % what, reads, h, "orig0-%s.pcap" % what,
               hdr + g.pcap_record(rec, origlen=0), 1, notes={"frames_truncated": 0})
        h.case("pcap: %s record, origlen 2^32-1" % what, reads, h, "origmax-%s.pcap" % what,
               hdr + g.pcap_record(rec, origlen=0xFFFFFFFF), 1, notes={"frames_truncated": 1})
    whole = g.pcap([arp, ping])
    h.case("pcap: last record cut in its header", refused, h, "cut-hdr.pcap",
           whole[:24 + 16 + len(arp) + 7], ["frame 2", "truncated"])
    h.case("pcap: last record cut in its data", refused, h, "cut-data.pcap", whole[:-5],
           ["frame 2", "truncated"])
    h.case("pcap: first record cut in its data", refused, h, "cut-data1.pcap",
           whole[:24 + 16 + 10], ["frame 1", "truncated"])


def pcap_times(h):
    arp, ping = g.arp_frame(), g.ping_frame()
    hdr = g.pcap_header()
    h.case("pcap: usec 0xffffffff is bad_timestamp", reads, h, "usec-max.pcap",
           hdr + g.pcap_record(arp, sec=0, frac=0xFFFFFFFF) + g.pcap_record(ping), 2,
           {"bad_timestamp": 1, "answered": 1}, {"frames_bad_timestamp": 1})
    h.case("pcap: nsec 10^9 is bad_timestamp", reads, h, "nsec-1e9.pcap",
           g.pcap_header(g.MAGIC_NSEC) + g.pcap_record(arp, frac=1_000_000_000) +
           g.pcap_record(ping), 2, {"bad_timestamp": 1, "answered": 1})
    h.case("pcap: sec 0 usec 0", reads, h, "t0.pcap",
           hdr + g.pcap_record(arp, sec=0, frac=0) + g.pcap_record(ping, sec=0, frac=5), 2,
           answered(2))
    # a reply at 2^32 s cannot be stamped in a pcap record: -o fails, the
    # report is still whole
    h.case("pcap: sec 0xffffffff, no -o", reads, h, "sec-max.pcap",
           hdr + g.pcap_record(arp, sec=0xFFFFFFFF, frac=999_999), 1, answered(1), out=False)
    h.case("pcap: sec 0xffffffff with -o fails", late_output, h)
    h.case("pcap: our own output of 2040 replays in 2040", own_output_replays, h)
    back = hdr + b"".join(g.pcap_record(g.ping_frame(seq=i), sec=1_600_000_000 - i)
                          for i in range(1, 4))
    h.case("pcap: timestamps going backwards", reads, h, "backwards.pcap", back, 3, answered(3),
           {"frames_out_of_order": 2})


def own_output_replays(h):
    """What replay writes in 2040 (past 2^31 s), replay reads back in 2040."""
    sec = 0x83000000
    data = g.pcap_header() + g.pcap_record(g.arp_frame(), sec=sec) + g.pcap_record(
        g.ping_frame(), sec=sec, frac=1000)
    reads(h, "y2040.pcap", data, 2, answered(2))
    r = h.run(["replay", "y2040.pcap.out.pcap", "--json"])
    need(r.rc == 0, "%s: expected exit 0" % r)
    j = h.ledger(r, 2, notes={"frames_bad_timestamp": 0})
    need(j["frames"][0]["t_ns"] // 10**9 == sec, "%s: the first reply is not at %d s" % (r, sec))


def late_output(h):
    data = g.pcap_header() + g.pcap_record(g.arp_frame(), sec=0xFFFFFFFF, frac=999_999)
    h.write("late.pcap", data)
    untouched = h.keep_files(["keep.pcap"])
    r = h.run(["replay", "late.pcap", "-o", "keep.pcap", "--json"])
    h.refused(r, 1, names=("2106", "keep.pcap"), once=("keep.pcap",))
    untouched(r)
    h.ledger(r, 1, answered(1))


def pcap_link_types(h):
    arp_pl = g.arp_request()
    ping_ip = g.ipv4(g.icmp_echo())
    tcp_ip = g.ipv4(g.tcp(), proto=6)
    v6 = bytes.fromhex("6000000000083a40") + b"\0" * 15 + b"\1" + b"\0" * 15 + b"\1" + \
        bytes.fromhex("8000000000000001")
    kinds = [
        ("sll", g.LT_LINUX_SLL, [g.sll(arp_pl, g.ETH_ARP), g.sll(ping_ip)]),
        ("sll2", g.LT_LINUX_SLL2, [g.sll2(arp_pl, g.ETH_ARP), g.sll2(ping_ip)]),
        ("raw", g.LT_RAW, [ping_ip, tcp_ip]),
        ("ipv4", g.LT_IPV4, [ping_ip, tcp_ip]),
        ("ipv6", g.LT_IPV6, [v6]),
        ("null-le", g.LT_NULL, [g.null_loop(ping_ip), g.null_loop(v6, 24)]),
        ("null-be", g.LT_NULL, [g.null_loop(ping_ip, big=True), g.null_loop(v6, 30, True)]),
        ("loop", g.LT_LOOP, [g.null_loop(ping_ip, big=True)]),
        ("vlan", g.LT_ETHERNET, [g.vlan_tags(g.arp_frame(), [(g.ETH_VLAN, 5)]),
                                 g.vlan_tags(g.ping_frame(), [(g.ETH_VLAN, 5)])]),
        ("qinq", g.LT_ETHERNET, [g.vlan_tags(g.ping_frame(), [(g.ETH_QINQ, 7), (g.ETH_VLAN, 5)]),
                                 g.vlan_tags(g.ping_frame(2), [(0x9100, 1), (g.ETH_VLAN, 2)])]),
    ]
    for name, lt, frames in kinds:
        h.case("pcap: link type %s" % name, reads, h, "lt-%s.pcap" % name,
               g.pcap(frames, linktype=lt), len(frames), notes={"frames_truncated": 0})
    # what cannot be converted, record by record: a fate, not an error
    bad = [
        ("sll", g.LT_LINUX_SLL, [b"\0" * 15, g.sll(b"\0" * 8, 0x0004)]),
        ("sll2", g.LT_LINUX_SLL2, [b"\0" * 19]),
        ("raw", g.LT_RAW, [b"", b"\x50" + b"\0" * 19]),
        ("null", g.LT_NULL, [b"\2\0\0", g.null_loop(ping_ip, family=99)]),
        ("vlan-runt", g.LT_ETHERNET, [g.vlan_tags(g.eth(b"", g.ETH_VLAN), [])[:14]]),
    ]
    for name, lt, frames in bad:
        fates = {"link_unsupported": len(frames)} if name != "vlan-runt" else None
        h.case("pcap: unconvertible %s records" % name, reads, h, "lt-bad-%s.pcap" % name,
               g.pcap(frames, linktype=lt), len(frames), fates)
    h.case("pcap: link type 802.11 refused", refused, h, "lt-80211.pcap",
           g.pcap([b"\0" * 24], linktype=g.LT_IEEE802_11), ["link type"])
    h.case("pcap: unknown link type refused", refused, h, "lt-unknown.pcap",
           g.pcap([b"\0" * 24], linktype=g.LT_UNKNOWN), ["link type"])


def pcap_frames(h):
    ping = g.ping_frame
    frames = [
        ("empty frame", b""),
        ("1-byte frame", b"\x52"),
        ("13-byte frame", g.arp_frame()[:13]),
        ("runt 20 bytes", g.ping_frame()[:20]),
        ("jumbo 9000", g.eth(g.ipv4(g.icmp_echo(data=b"j" * 8964)))),
        ("65535 bytes", g.eth(b"\0" * (65535 - 14))),
        ("262144 bytes", g.eth(b"\0" * (262144 - 14))),
        ("IHL 4", ping(ihl=4)),
        ("IHL 15 past the packet", g.eth(g.ipv4(b"", ihl=15)[:30])),
        ("IHL 6 (options)", ping(ihl=6)),
        ("total length 0", ping(total=0)),
        ("total length 19", ping(total=19)),
        ("total length past the frame", ping(total=1500)),
        ("total length 65535", ping(total=65535)),
        ("bad IPv4 checksum", ping(check=0x1234)),
        ("first fragment", ping(frag=0x2000)),
        ("middle fragment", ping(frag=0x2000 | 10)),
        ("last fragment at the top offset", ping(frag=0x1FFF)),
        ("TCP offset 0", g.tcp_frame(offset=0)),
        ("TCP offset 4", g.tcp_frame(offset=4)),
        ("TCP offset 15 past the segment", g.tcp_frame(offset=15)[:54]),
        ("TCP SYN to the echo port", g.tcp_frame()),
        ("TCP to a closed port", g.tcp_frame(dport=1)),
        ("ARP cut short", g.arp_frame()[:30]),
        ("IPv6 in Ethernet", g.eth(b"\x60" + b"\0" * 39, g.ETH_IPV6)),
        ("unknown Ethernet type", g.eth(b"\0" * 46, 0x88B5)),
    ]
    data = g.pcap([f for _, f in frames], snaplen=262144)
    h.case("pcap: %d damaged and odd frames, one file" % len(frames), reads, h, "frames.pcap",
           data, len(frames))
    for i, (what, f) in enumerate(frames):
        h.case("pcap: %s" % what, reads, h, "frame-%d.pcap" % i, g.pcap([f], snaplen=262144), 1)


def pcap_group(h):
    pcap_headers(h)
    pcap_records(h)
    pcap_times(h)
    pcap_link_types(h)
    pcap_frames(h)


# --- pcapng ------------------------------------------------------------------


def ng_mixed(*blocks, big=False):
    """A file this reader reads block by block: two interfaces that differ."""
    return (g.shb(big) + g.idb(g.LT_ETHERNET, big=big) + g.idb(g.LT_RAW, big=big) +
            b"".join(blocks))


def pcapng_structure(h):
    arp, ping = g.arp_frame(), g.ping_frame()
    good = g.pcapng([arp, ping])
    h.case("pcapng: both byte orders", reads_both, h, [arp, ping])
    h.case("pcapng: missing SHB", refused, h, "no-shb.pcapng", good[28:], ["unknown file format"])
    h.case("pcapng: SHB alone", refused, h, "shb-only.pcapng", g.shb(), ["Interface Description"])
    h.case("pcapng: SHB with a bad byte-order magic", refused, h, "bad-bom.pcapng",
           g.shb(bom=0x01020304) + good[28:])
    h.case("pcapng: SHB of version 2", refused, h, "v2.pcapng", g.shb(major=2) + good[28:])
    for length, what in ((13, "not a multiple of 4"), (8, "under 12"), (1 << 20, "past the end")):
        bad = good[:28] + g.block(g.BT_IDB, b"\1\0\0\0\0\0\0\0", length=length) + good[48:]
        h.case("pcapng: block length %s" % what, refused, h, "blen-%d.pcapng" % length, bad)
        bad = ng_mixed(g.epb(arp), g.block(0x0BAD, b"x" * 8, length=length),
                       g.epb(ping))
        h.case("pcapng (own reader): block length %s" % what, refused, h,
               "blen-mixed-%d.pcapng" % length, bad, ["frame 2"])
    h.case("pcapng: trailer disagrees", refused, h, "trailer.pcapng",
           good[:28] + g.block(g.BT_IDB, b"\1\0\0\0\0\0\0\0", trailer=99) + good[48:])
    h.case("pcapng: truncated in its last block", refused, h, "cut.pcapng", good[:-6],
           ["truncated"])
    h.case("pcapng (own reader): truncated in its last block", refused, h, "cut-mixed.pcapng",
           ng_mixed(g.epb(arp), g.epb(ping))[:-6], ["frame 2", "truncated"])
    h.case("pcapng: unknown block types skipped", reads, h, "unknown-blocks.pcapng",
           g.shb() + g.block(0x0BAD, b"hello") + g.idb() + g.block(0x80000001, b"") +
           g.epb(arp) + g.block(0x0BAD, b"x" * 64) + g.epb(ping, ticks=1_600_000_000_000_100), 2,
           answered(2))
    h.case("pcapng: SPB", reads, h, "spb.pcapng", g.shb() + g.idb() + g.spb(arp) + g.spb(ping),
           2, answered(2))
    h.case("pcapng (own reader): SPB and obsolete PB", reads, h, "spb-mixed.pcapng",
           ng_mixed(g.spb(arp), g.block(g.BT_PB, struct.pack("<HHIIII", 1, 0, 0, 1, 20, 20) +
                                        g.ipv4(g.icmp_echo())[:20])), 2)


def reads_both(h, frames):
    for big in (False, True):
        why = reads(h, "order-%d.pcapng" % big, g.pcapng(frames, big=big), len(frames),
                    answered(len(frames)))
        if why:
            return why


def pcapng_interfaces(h):
    arp, ping = g.arp_frame(), g.ping_frame()
    ping_ip = g.ipv4(g.icmp_echo(2))
    h.case("pcapng: second section in the other byte order", reads, h, "two-sections.pcapng",
           g.shb() + g.idb() + g.epb(arp) + g.shb(big=True) + g.idb(big=True) +
           g.epb(ping, big=True, ticks=1_600_000_000_000_500), 2, answered(2),
           {"mixed_link_types": True})
    h.case("pcapng: EPB of an interface never declared", refused, h, "no-idb.pcapng",
           g.shb() + g.idb() + g.epb(arp) + g.epb(ping, iface=3), ["frame 2"])
    h.case("pcapng (own reader): EPB of an interface never declared", reads, h,
           "no-idb-mixed.pcapng", ng_mixed(g.epb(arp), g.epb(ping, iface=7)), 2,
           {"answered": 1, "link_unsupported": 1})
    h.case("pcapng: EPB before any interface", refused, h, "epb-first.pcapng",
           g.shb() + g.epb(arp) + g.idb())
    ifaces = (g.idb(g.LT_ETHERNET, tsresol=9, tsoffset=-1_600_000_000) +
              g.idb(g.LT_RAW, tsresol=0x80 | 20, tsoffset=5) +
              g.idb(g.LT_LINUX_SLL, snaplen=40, tsresol=3) + g.idb(g.LT_IEEE802_11))
    blocks = (g.epb(arp, 0, ticks=1_600_000_000_000_000_000 + 10) +
              g.epb(ping_ip, 1, ticks=3 << 20) +
              g.epb(g.sll(g.arp_request(), g.ETH_ARP), 2, ticks=1_000) +
              g.epb(b"\0" * 24, 3))
    h.case("pcapng: four interfaces, link types, resolutions, offsets", reads, h,
           "ifaces.pcapng", g.shb() + ifaces + blocks, 4, {"link_unsupported": 1},
           {"mixed_link_types": True})
    big_ifaces = g.shb(True) + g.idb(g.LT_ETHERNET, tsresol=6, big=True) + g.idb(
        g.LT_RAW, tsresol=0x80 | 63, big=True)
    h.case("pcapng: binary resolution 2^-63, big-endian", reads, h, "res63.pcapng",
           big_ifaces + g.epb(arp, 0, big=True) + g.epb(ping_ip, 1, ticks=1 << 63, big=True), 2)
    h.case("pcapng: if_tsresol 10^-20 is bad_timestamp", reads, h, "res20.pcapng",
           ng_mixed(g.epb(arp)) + g.idb(g.LT_ETHERNET, tsresol=20) + g.epb(ping, 2), 2,
           {"bad_timestamp": 1})
    h.case("pcapng: nanosecond 2^64-1", reads, h, "ns-max.pcapng",
           g.shb() + g.idb(tsresol=9) + g.epb(arp, ticks=(1 << 64) - 1) +
           g.epb(ping, ticks=1_600_000_000_000_000_000), 2, {"bad_timestamp": 1, "answered": 1})
    h.case("pcapng (own reader): nanosecond 2^64-1", reads, h, "ns-max-mixed.pcapng",
           ng_mixed(g.epb(arp)) + g.idb(tsresol=9) + g.epb(ping, 2, ticks=(1 << 64) - 1), 2,
           {"bad_timestamp": 1})
    h.case("pcapng: timestamps going backwards", reads, h, "ng-back.pcapng",
           g.shb() + g.idb() + g.epb(arp, ticks=2_000_000_000_000_000) +
           g.epb(ping, ticks=1_000_000_000_000_000), 2, answered(2), {"frames_out_of_order": 1})


def pcapng_records(h):
    arp, ping = g.arp_frame(), g.ping_frame()
    for name, opts in (("length past the block", g.option(9, b"\6", length=200)),
                       ("odd length", g.option(2, b"abc", length=3) + g.option(9, b"\6")),
                       ("if_tsresol of 8 bytes", g.option(9, b"\6" * 8)),
                       ("no end of options", g.option(2, b"name"))):
        data = g.shb() + g.idb(options=opts) + g.epb(arp) + g.epb(ping)
        h.case("pcapng: IDB option %s" % name, read_or_refused, h, "opt-%s.pcapng" % name[:6],
               data, 2)
        data = ng_mixed(g.epb(arp)) + g.idb(options=opts) + g.epb(ping, 2)
        h.case("pcapng (own reader): IDB option %s" % name, reads, h,
               "opt-mixed-%s.pcapng" % name[:6], data, 2)
    h.case("pcapng: EPB caplen past its block", refused, h, "epb-long.pcapng",
           g.shb() + g.idb() + g.epb(arp, caplen=200), ["frame 1"])
    h.case("pcapng (own reader): EPB caplen past its block", reads, h, "epb-long-mixed.pcapng",
           ng_mixed(g.epb(arp, caplen=200), g.epb(ping)), 2, {"frame_invalid": 1},
           {"records_damaged": 1})
    h.case("pcapng (own reader): EPB without its fixed part", reads, h, "epb-stub-mixed.pcapng",
           ng_mixed(g.block(g.BT_EPB, b"\0" * 8), g.epb(ping)), 2, {"bad_timestamp": 1})
    h.case("pcapng: EPB caplen > origlen, origlen 0", reads, h, "epb-orig0.pcapng",
           g.shb() + g.idb() + g.epb(arp, origlen=0), 1, answered(1), {"frames_truncated": 0})
    raw = g.ipv4(g.icmp_echo())
    h.case("pcapng (own reader): raw IP record, origlen 0", reads, h, "raw-orig0-mixed.pcapng",
           ng_mixed(g.epb(raw, 1, origlen=0)), 1, notes={"frames_truncated": 0})
    h.case("pcapng (own reader): raw IP record, origlen 2^32-1", reads, h,
           "raw-origmax-mixed.pcapng", ng_mixed(g.epb(raw, 1, origlen=0xFFFFFFFF)), 1,
           notes={"frames_truncated": 1})
    h.case("pcapng: EPB caplen > 256 KiB", refused, h, "epb-huge.pcapng",
           g.shb() + g.idb() + g.epb(b"\0" * 262148), ["frame 1"])


def read_or_refused(h, name, data, frames):
    """Either libpcap's verdict holds it: read whole, or refused in one line."""
    h.write(name, data)
    untouched = h.keep_files(OUTS[:1])
    r = h.run(["replay", name, "--json", "-o", OUTS[0]])
    if r.rc == 0:
        h.ledger(r, frames)
    else:
        h.refused(r, 2, names=(name,), once=(name,))
        untouched(r)


def pcapng_group(h):
    pcapng_structure(h)
    pcapng_interfaces(h)
    pcapng_records(h)
