/* The vnetsim command as a user runs it: exit codes, one-line errors, help,
 * and output a script can parse. Runs the built binary in a shell. */
#define _DEFAULT_SOURCE /* mkdtemp */

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tests/cli_run.h"

static int count_lines(const char *s) {
  int n = 0;
  for (; *s; s++) n += *s == '\n';
  return n;
}

START_TEST(test_no_arguments_runs_the_demo) {
  ck_assert_int_eq(run(""), 0);
  ck_assert_ptr_nonnull(strstr(out_buf, "4 of 4 pings answered"));
  ck_assert_ptr_nonnull(strstr(out_buf, "answered             5"));
  ck_assert_ptr_nonnull(strstr(out_buf, "all accounted: yes"));
  ck_assert_str_eq(err_buf, "");
}
END_TEST

START_TEST(test_demo_json_is_one_object) {
  ck_assert_int_eq(run("demo --pings 3 --seed 9 --json"), 0);
  ck_assert_int_eq(count_lines(out_buf), 1);
  ck_assert_int_eq(out_buf[0], '{');
  ck_assert_ptr_nonnull(strstr(out_buf, "\"replied\":3,"));
  ck_assert_ptr_nonnull(strstr(out_buf, "\"fates_accounted\":true"));
  ck_assert_ptr_nonnull(strstr(out_buf, "\"answered\":4"));
}
END_TEST

START_TEST(test_same_seed_prints_same_output) {
  char first[sizeof out_buf];
  ck_assert_int_eq(run("--seed 42"), 0);
  strcpy(first, out_buf);
  ck_assert_int_eq(run("--seed 42"), 0);
  ck_assert_str_eq(out_buf, first);
}
END_TEST

START_TEST(test_fixed_latencies_give_fixed_round_trips) {
  /* link 10 us each way, kick 1 us, interrupt 2 us: every echo after the
   * first (which waits for ARP) takes exactly link + irq + kick + link */
  ck_assert_int_eq(run("--latency kick=1000,irq=2000,link=10000,batch=4 --pings 3"), 0);
  ck_assert_ptr_nonnull(strstr(out_buf, "ping seq=2   reply after 23.000 us"));
  ck_assert_ptr_nonnull(strstr(out_buf, "ping seq=3   reply after 23.000 us"));
}
END_TEST

START_TEST(test_every_command_explains_itself) {
  static const char *const cmds[] = {"--help", "demo --help", "replay --help", "bench --help",
                                     "rules --help"};
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
    ck_assert_int_eq(run(cmds[i]), 0);
    ck_assert_msg(strstr(out_buf, "usage: vnetsim") != NULL, "%s prints no usage", cmds[i]);
  }
}
END_TEST

/* Each bad invocation: exit 2, one line on stderr naming the problem. */
static const struct {
  const char *args, *names;
} bad_calls[] = {
    {"--bogus", "--bogus"},
    {"demo --qsize 100", "power of two"},
    {"demo --qsize 65536", "power of two"},
    {"demo --seed -1", "--seed"},
    {"demo --bug rx-everything", "rx-everything"},
    {"demo --pings 0", "--pings"},
    {"demo --guest-ip 10.0.2", "--guest-ip"},
    {"demo --guest-ip 10.0.2.2", "host's own address"},
    {"demo --guest-ip 224.0.0.1", "multicast"},
    {"demo --guest-ip 10.0.2.255", "broadcast"},
    {"demo --guest-ip 10.0.2.+1", "--guest-ip"},
    {"demo --seed ' 1'", "--seed"},
    {"demo --qsize 0x100", "--qsize"},
    {"demo --guest-mac 52:-1:00:12:34:56", "--guest-mac"},
    {"demo --guest-mac 52:54:00:12:34:56:", "--guest-mac"},
    {"demo --guest-mac 01:00:5e:00:00:01", "unicast"},
    {"demo extra", "extra"},
    {"demo --latency kick=5-1", "--latency"},
    {"demo --latency warp=1", "--latency"},
    {"demo --latency batch=0-4", "--latency"},
    {"demo --fault bogus=1", "--fault"},
    {"demo --fault drop=2", "--fault"},
    {"replay", "missing the input"},
    {"replay /nonexistent/in.pcap", "/nonexistent/in.pcap"},
    {"replay README.md", "README.md"},
    {"replay pcpp_microsecs.pcap -o /nonexistent/out.pcap", "/nonexistent/out.pcap"},
    {"replay pcpp_microsecs.pcap --trace /nonexistent/t.jsonl", "/nonexistent/t.jsonl"},
    {"bench --frames 5", "--frames"},
    {"frobnicate", "frobnicate"},
    {"explore --bug rx-no-recycle --seeds 5..1", "--seeds"},
    {"explore --seeds 1..2", "--bug"},
    {"explore --bug rx-no-recycle", "--seeds"},
    {"bugs --everything", "--everything"},
    {"story --bug nonsense", "nonsense"},
    {"replay pcpp_microsecs.pcap --compare bogus", "bogus"},
    {"replay pcpp_microsecs.pcap --compare rx-no-recycle -o /tmp/x.pcap", "--compare"},
    {"replay pcpp_microsecs.pcap --html /nonexistent/x.html", "/nonexistent/x.html"},
    {"replay pcpp_microsecs.pcap --compare redox --check", "--check"},
    {"replay pcpp_microsecs.pcap --max-frames 0", "--max-frames"},
    {"run --backend tap", "--tap NAME"},
    {"run --tap vtap9", "--backend tap"},
    {"run --backend vde", "--backend"},
    {"run --backend tap --tap vtap9 --hostfwd tcp::0-:8023", "--hostfwd"},
    {"run --backend tap --tap vtap9 --guest-ip 172.16.0.1", "host's own address"},
    {"bench --live --frames 5000", "--live"},
    {"bench --requests 5", "--live"},
    {"bench --live --concurrency 0", "--concurrency"},
    {"bench --live --requests -1", "--requests"},
    {"explore --bug rx-no-recycle --seeds 1..2 --seed 5", "--seed:"},
};

START_TEST(test_bad_input_exits_2_with_one_line) {
  int rc = run(bad_calls[_i].args);
  ck_assert_msg(rc == 2, "'%s' exited %d", bad_calls[_i].args, rc);
  ck_assert_msg(count_lines(err_buf) == 1, "'%s' printed %d lines on stderr: %s",
                bad_calls[_i].args, count_lines(err_buf), err_buf);
  ck_assert_msg(strstr(err_buf, bad_calls[_i].names) != NULL, "'%s': stderr '%s' lacks '%s'",
                bad_calls[_i].args, err_buf, bad_calls[_i].names);
}
END_TEST

START_TEST(test_replay_writes_answers_and_fates) {
  char args[256];
  snprintf(
      args, sizeof args,
      "replay pcpp_ArpRequestPacket.pcap --guest-ip 10.0.0.138 -o %s/o.pcap --trace %s/t.jsonl",
      tmpdir, tmpdir);
  ck_assert_int_eq(run(args), 0);
  ck_assert_ptr_nonnull(strstr(out_buf, "frame    1"));
  ck_assert_ptr_nonnull(strstr(out_buf, "answered"));
  ck_assert_ptr_nonnull(strstr(out_buf, "wrote 1 guest frames"));
  /* the output capture: a 24-byte pcap header, a 16-byte record header and
   * the 42-byte ARP reply; the nanosecond magic */
  char path[128];
  snprintf(path, sizeof path, "%s/o.pcap", tmpdir);
  static char pcap[256];
  ck_assert_uint_eq(slurp(path, pcap, sizeof pcap), 24 + 16 + 42);
  ck_assert_uint_eq((uint8_t)pcap[0], 0x4d);
  ck_assert_uint_eq((uint8_t)pcap[3], 0xa1);
  /* every trace line is a JSON object with a time and an event */
  snprintf(path, sizeof path, "%s/t.jsonl", tmpdir);
  static char trace[1 << 20];
  slurp(path, trace, sizeof trace);
  int lines = count_lines(trace);
  ck_assert_int_gt(lines, 500);
  ck_assert_int_eq(strncmp(trace, "{\"t\":", 5), 0);
  ck_assert_ptr_nonnull(strstr(trace, "\"ev\":\"frame_fate\""));
  ck_assert_ptr_nonnull(strstr(trace, "\"detail\":\"answered\""));
}
END_TEST

START_TEST(test_bugs_lists_every_switch) {
  ck_assert_int_eq(run("bugs --json"), 0);
  int entries = 0;
  for (const char *p = out_buf; (p = strstr(p, "\"name\":")) != NULL; p++) entries++;
  ck_assert_int_eq(entries, 28);
  static const char *const names[] = {"rx-no-recycle",
                                      "rx-last-only",
                                      "rx-no-irq-wake",
                                      "tx-no-reclaim",
                                      "tx-no-kick",
                                      "kick-before-publish",
                                      "legacy-hdr-10",
                                      "used-event-stale",
                                      "irq-enable-no-recheck",
                                      "used-slot-mod-256",
                                      "tx-last-only",
                                      "dev-used-event-equal",
                                      "avail-idx-no-wmb",
                                      "kick-check-no-mb",
                                      "used-idx-no-rmb",
                                      "irq-enable-no-mb",
                                      "dev-used-idx-no-wmb",
                                      "dev-irq-check-no-mb",
                                      "dev-avail-event-no-mb",
                                      "dev-avail-idx-no-rmb",
                                      "drv-packed-no-wrap-toggle",
                                      "drv-packed-used-avail-counter",
                                      "dev-packed-wrap-exact",
                                      "dev-packed-id-first",
                                      "dev-packed-used-no-wmb",
                                      "drv-mrg-first-only",
                                      "drv-mrg-repost-first",
                                      "dev-mrg-num-buffers-one"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    ck_assert_msg(strstr(out_buf, names[i]) != NULL, "bugs lacks %s", names[i]);
  ck_assert_ptr_nonnull(strstr(out_buf, "\"name\":\"rx-no-recycle\",\"side\":\"driver\""));
  ck_assert_int_eq(run("bugs"), 0);
  ck_assert_ptr_nonnull(strstr(out_buf, "rx-last-only (driver, Redox virtio-netd, virtio 1.2 §"));
  ck_assert_ptr_nonnull(strstr(out_buf, "  fix:     "));
}
END_TEST

START_TEST(test_story_prints_symptoms_side_by_side) {
  ck_assert_int_eq(run("story"), 0);
  ck_assert_ptr_nonnull(strstr(out_buf, "host -> guest ping                       0/3 replied"));
  ck_assert_ptr_nonnull(strstr(out_buf, "TCP handshake to guest port 8023         completes"));
  ck_assert_ptr_nonnull(strstr(
      out_buf, "TCP data echoed by the guest             0/4096 bytes           4096/4096 bytes"));
  ck_assert_ptr_nonnull(strstr(out_buf, "host ARP request for the guest           rx_no_buffer"));
  ck_assert_ptr_nonnull(strstr(out_buf, "frame 257 (sent at"));
}
END_TEST

START_TEST(test_explore_finds_first_seed_and_reproduces_it) {
  ck_assert_int_eq(
      run("explore --bug dev-used-event-equal --qsize 4 --bursts 2 --seeds 1..5 --json"), 0);
  ck_assert_ptr_nonnull(strstr(out_buf, "\"found\":true,\"seed\":2,"));
  ck_assert_ptr_nonnull(strstr(out_buf, "\"reproduced\":true"));
  /* 16 frames never exhaust 256 buffers: nothing to find, exit 1 */
  ck_assert_int_eq(run("explore --bug rx-no-recycle --bursts 2 --seeds 1..3"), 1);
  ck_assert_ptr_nonnull(strstr(out_buf, "does not show in seeds 1..3"));
}
END_TEST

/* The README's rule table is `vnetsim rules --markdown`, row for row. */
START_TEST(test_the_readme_lists_every_rule) {
  ck_assert_int_eq(run("rules --markdown"), 0);
  char path[512];
  snprintf(path, sizeof path, "%s/../../README.md", VNETSIM_TEST_DATA_DIR);
  static char readme[1 << 18];
  ck_assert_uint_gt(slurp(path, readme, sizeof readme), 0);
  int rows = 0;
  for (char *line = strtok(out_buf, "\n"); line; line = strtok(NULL, "\n"), rows++)
    ck_assert_msg(strstr(readme, line) != NULL, "README.md lacks the row: %s", line);
  ck_assert_int_eq(run("rules --json"), 0);
  int n = 0;
  for (const char *p = out_buf; (p = strstr(p, "\"name\":")) != NULL; p++) n++;
  ck_assert_int_eq(rows, n + 2); /* the header and its rule */
  ck_assert_ptr_nonnull(strstr(out_buf,
                               "\"name\":\"push_not_taken\",\"section\":\"2.7.8\","
                               "\"side\":\"device\""));
  ck_assert_int_eq(run("rules --json --markdown"), 2);
}
END_TEST

/* Workers in parallel give the serial answer: the first seed in order. */
START_TEST(test_explore_jobs_give_the_serial_answer) {
  static char serial[sizeof out_buf];
  const char *args = "explore --bug irq-enable-no-recheck --seeds 1..120 --bursts 8";
  char cmd[256];
  snprintf(cmd, sizeof cmd, "%s --jobs 1", args);
  int rc = run(cmd);
  strcpy(serial, out_buf);
  ck_assert_ptr_nonnull(strstr(serial, "vnetsim explore:"));
  snprintf(cmd, sizeof cmd, "%s --jobs 3", args);
  ck_assert_int_eq(run(cmd), rc);
  ck_assert_str_eq(out_buf, serial);
  ck_assert_int_eq(run("explore --bug rx-no-recycle --seeds 1..4 --jobs 0"), 2);
}
END_TEST

START_TEST(test_replay_compare_lists_frames_that_differ) {
  ck_assert_int_eq(run("replay libpcap_gateway_or_not.pcap --guest-ip 10.20.30.40 "
                       "--guest-mac aa:00:04:00:14:0e --compare legacy-hdr-10"),
                   0);
  ck_assert_ptr_nonnull(strstr(out_buf, "2 of 14 frames differ"));
  ck_assert_ptr_nonnull(
      strstr(out_buf, "  1       1760884476.122148000  answered             not_for_guest"));
}
END_TEST

START_TEST(test_replay_check_reports_rules_by_section) {
  ck_assert_int_eq(run("replay pcpp_microsecs.pcap --check"), 0);
  ck_assert_ptr_nonnull(strstr(out_buf, "conformance: no violations"));
  /* the driver computes used slots modulo 256 on a queue of 4: it reads
   * past the ring, takes a head that is still on offer and offers it again */
  ck_assert_int_eq(run("replay tcpreplay_test.pcap --bug used-slot-mod-256 --qsize 4 --check"), 0);
  ck_assert_ptr_nonnull(strstr(out_buf, "conformance: 1 violation\n"));
  ck_assert_ptr_nonnull(strstr(out_buf, "device saw, on rx: head_in_flight (virtio 1.2 §2.7.13)"));
  ck_assert_ptr_nonnull(strstr(out_buf, "NEEDS RESET: head_in_flight"));
  ck_assert_int_eq(
      run("replay tcpreplay_test.pcap --bug used-slot-mod-256 --qsize 4 --check --json"), 0);
  ck_assert_ptr_nonnull(strstr(out_buf, "\"violations_list\":[{\"t_ns\":"));
  ck_assert_ptr_nonnull(strstr(out_buf, "\"rule\":\"head_in_flight\",\"section\":\"2.7.13\""));
}
END_TEST

START_TEST(test_bench_reports_ratio) {
  ck_assert_int_eq(run("bench --frames 2000 --tcp-bytes 65536 --json"), 0);
  ck_assert_ptr_nonnull(strstr(out_buf, "\"tcp\":{\"bytes\":65536,\"wall_bytes_per_s\":"));
  ck_assert_ptr_nonnull(strstr(out_buf, "\"size\":64"));
  ck_assert_ptr_nonnull(strstr(out_buf, "\"size\":1500"));
  ck_assert_ptr_nonnull(strstr(out_buf, "\"ratio\":"));
  ck_assert_ptr_nonnull(strstr(out_buf, "\"full_packed_vs_full\":"));
  ck_assert_ptr_nonnull(strstr(out_buf, "\"full_mergeable_ns_per_frame\":"));
  ck_assert_ptr_nonnull(strstr(out_buf, "\"full_mergeable_vs_full\":"));
}
END_TEST

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  ck_assert_int_ge(fputs(text, f), 0);
  ck_assert_int_eq(fclose(f), 0);
}

/* A command that fails leaves every existing output as it was, and no
 * temporary file beside it. */
START_TEST(test_a_failed_run_clobbers_nothing) {
  char keep[128], args[512], buf[64];
  snprintf(keep, sizeof keep, "%s/keep.pcap", tmpdir);
  static const char *const tails[] = {"--trace /nonexistent/t.jsonl", "--html /nonexistent/x.html",
                                      "--bug nonsense", "--trace /proc/x"};
  for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
    write_file(keep, "KEEP");
    snprintf(args, sizeof args, "replay tcpdump_tftp.pcap -o %s %s", keep, tails[i]);
    ck_assert_int_eq(run(args), 2);
    ck_assert_uint_eq(slurp(keep, buf, sizeof buf), 4);
    ck_assert_str_eq(buf, "KEEP");
  }
  char cmd[256];
  snprintf(cmd, sizeof cmd, "test $(ls -A %s | wc -l) -eq 3", tmpdir); /* keep, out, err */
  ck_assert_int_eq(system(cmd), 0);
  /* an output on the input, or two outputs on one file */
  ck_assert_int_eq(run("replay tcpdump_tftp.pcap -o tcpdump_tftp.pcap"), 2);
  ck_assert_ptr_nonnull(strstr(err_buf, "same file"));
  snprintf(args, sizeof args, "replay tcpdump_tftp.pcap -o %s --trace %s", keep, keep);
  ck_assert_int_eq(run(args), 2);
  ck_assert_ptr_nonnull(strstr(err_buf, "same file"));
  /* a device is written in place, never renamed over */
  ck_assert_int_eq(run("replay tcpdump_tftp.pcap -o /dev/null --trace /dev/null --json"), 2);
  ck_assert_int_eq(run("replay tcpdump_tftp.pcap -o /dev/null"), 0);
  ck_assert_int_eq(system("test -c /dev/null"), 0);
  /* and a successful run puts the file in place */
  snprintf(args, sizeof args, "replay tcpdump_tftp.pcap -o %s", keep);
  ck_assert_int_eq(run(args), 0);
  ck_assert_uint_ge(slurp(keep, buf, sizeof buf), 24); /* a pcap file header at least */
  ck_assert_int_ne(memcmp(buf, "KEEP", 4), 0);
}
END_TEST

/* JSON output is valid Unicode even for a file name that is not UTF-8, and
 * an error names a missing file once. */
START_TEST(test_json_escapes_bytes_and_errors_name_files_once) {
  char cmd[512], args[256];
  snprintf(cmd, sizeof cmd, "cp %s/tcpdump_tftp.pcap '%s/caf\xc3\xa9-\xff.pcap'",
           VNETSIM_CAPTURES_DIR, tmpdir);
  ck_assert_int_eq(system(cmd), 0);
  snprintf(args, sizeof args, "replay '%s/caf\xc3\xa9-\xff.pcap' --json", tmpdir);
  ck_assert_int_eq(run(args), 0);
  ck_assert_ptr_nonnull(strstr(out_buf, "caf\xc3\xa9-\\u00ff.pcap\""));
  ck_assert_ptr_null(strstr(out_buf, "\xff"));
  ck_assert_int_eq(run("replay /nonexistent/in.pcap"), 2);
  const char *first = strstr(err_buf, "/nonexistent/in.pcap");
  ck_assert_ptr_nonnull(first);
  ck_assert_ptr_null(strstr(first + 1, "/nonexistent/in.pcap"));
}
END_TEST

/* Runs a shell command; returns its first output line in buf. */
static void shell_line(const char *cmd, char *buf, size_t cap) {
  FILE *p = popen(cmd, "r");
  ck_assert_ptr_nonnull(p);
  if (!fgets(buf, (int)cap, p)) buf[0] = '\0';
  buf[strcspn(buf, "\n")] = '\0';
  ck_assert_int_eq(pclose(p), 0);
}

/* Wireshark reads what replay writes, to a file and to standard output
 * ('-': the report then goes to standard error). */
START_TEST(test_wireshark_reads_our_pcap) {
  ck_assert_msg(system("command -v tshark >/dev/null && command -v capinfos >/dev/null") == 0,
                "tshark and capinfos are not installed (scripts/install-deps.sh installs them)");
  char cmd[1024], line[256];
  snprintf(cmd, sizeof cmd,
           "cd %s && '%s' replay pcpp_ArpRequestPacket.pcap --guest-ip 10.0.0.138 -o - "
           "2>%s/report >%s/o.pcap",
           VNETSIM_CAPTURES_DIR, VNETSIM_BIN, tmpdir, tmpdir);
  ck_assert_int_eq(system(cmd), 0);
  snprintf(cmd, sizeof cmd, "capinfos -c -M -T -r %s/o.pcap", tmpdir);
  shell_line(cmd, line, sizeof line);
  ck_assert_msg(strstr(line, "\t1") != NULL, "capinfos: '%s'", line);
  snprintf(cmd, sizeof cmd, "tshark -r %s/o.pcap -T fields -e arp.opcode -e arp.src.proto_ipv4",
           tmpdir);
  shell_line(cmd, line, sizeof line);
  ck_assert_str_eq(line, "2\t10.0.0.138"); /* the guest's ARP reply, as Wireshark decodes it */
  char path[128];
  snprintf(path, sizeof path, "%s/report", tmpdir);
  slurp(path, err_buf, sizeof err_buf);
  ck_assert_ptr_nonnull(strstr(err_buf, "wrote 1 guest frames to -"));
  /* --trace -: JSON lines only on standard output */
  ck_assert_int_eq(run("demo --trace -"), 0);
  ck_assert_uint_eq(out_buf[0], '{');
  ck_assert_ptr_null(strstr(out_buf, "pings answered"));
  ck_assert_ptr_nonnull(strstr(err_buf, "4 of 4 pings answered"));
}
END_TEST

/* --merged: both directions in one pcapng file Wireshark reads whole, the
 * host's frames on interface "host" and the guest's on "guest", in the
 * order they crossed the link; the guest's echo reply to the ping to
 * 8.8.8.8 it answers in that host's place among them. */
START_TEST(test_wireshark_reads_the_merged_capture) {
  ck_assert_msg(system("command -v tshark >/dev/null && command -v capinfos >/dev/null") == 0,
                "tshark and capinfos are not installed (scripts/install-deps.sh installs them)");
  char args[512], cmd[1024], line[256];
  snprintf(args, sizeof args, "replay pcpp_IcmpPackets.pcap --merged %s/m.pcapng", tmpdir);
  ck_assert_int_eq(run(args), 0);
  const char *wrote = strstr(out_buf, "wrote ");
  unsigned total = 0, host = 0, guest = 0;
  ck_assert_ptr_nonnull(wrote);
  ck_assert_int_eq(
      sscanf(wrote, "wrote %u frames to %*s (host %u, guest %u)", &total, &host, &guest), 3);
  ck_assert_uint_eq(total, host + guest);
  ck_assert_uint_ge(guest, 2); /* its ARP request and its echo reply */
  snprintf(cmd, sizeof cmd, "capinfos -c -M -T -r %s/m.pcapng", tmpdir);
  shell_line(cmd, line, sizeof line);
  char want[64];
  snprintf(want, sizeof want, "\t%u", total);
  ck_assert_msg(strstr(line, want) != NULL, "capinfos: '%s', want %u frames", line, total);
  /* every frame decoded, none malformed, times never going back */
  snprintf(cmd, sizeof cmd,
           "tshark -r %s/m.pcapng -T fields -e frame.interface_name -e frame.time_epoch "
           "-e ip.src -e icmp.type -e _ws.malformed 2>%s/tshark.err",
           tmpdir, tmpdir);
  FILE *p = popen(cmd, "r");
  ck_assert_ptr_nonnull(p);
  unsigned n = 0, on_host = 0, replies = 0;
  double last = 0;
  while (fgets(line, sizeof line, p)) {
    char iface[16] = "", src[64] = "", type[16] = "";
    double t = 0;
    ck_assert_int_ge(sscanf(line, "%15[^\t]\t%lf\t%63[^\t\n]\t%15[^\t\n]", iface, &t, src, type),
                     2);
    ck_assert_msg(!strstr(line, "malformed"), "tshark: %s", line);
    ck_assert_msg(t >= last, "frame %u goes back in time", n + 1);
    last = t;
    on_host += !strcmp(iface, "host");
    replies += !strcmp(iface, "guest") && !strcmp(src, "8.8.8.8") && !strcmp(type, "0");
    n++;
  }
  ck_assert_int_eq(pclose(p), 0);
  ck_assert_uint_eq(n, total);
  ck_assert_uint_eq(on_host, host);
  ck_assert_uint_eq(replies, 1);
  /* it names another output's file: refused before anything is written */
  snprintf(args, sizeof args, "replay pcpp_IcmpPackets.pcap -o %s/x --merged %s/x", tmpdir, tmpdir);
  ck_assert_int_eq(run(args), 2);
  ck_assert_ptr_nonnull(strstr(err_buf, "-o and --merged name the same file"));
}
END_TEST

/* A capture whose first record's time no clock holds (usec 0xffffffff, as
 * hostile files have it): that frame gets bad_timestamp, the frame after it
 * is still replayed at its own time, and the ledger adds up. */
/* Writes `path`: the public ARP-request capture's frame in n records, record
 * i stamped sec[i] / usec[i] (little-endian, as the file's header says). */
static void write_arp_capture(const char *path, int n, const uint32_t *sec, const uint32_t *usec) {
  static char arp[256];
  char src[256];
  snprintf(src, sizeof src, "%s/pcpp_ArpRequestPacket.pcap", VNETSIM_CAPTURES_DIR);
  ck_assert_uint_eq(slurp(src, arp, sizeof arp), 24 + 16 + 42);
  ck_assert_uint_eq((uint8_t)arp[0], 0xd4); /* little-endian microsecond magic */
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(arp, 1, 24, f), 24);
  for (int rec = 0; rec < n; rec++) {
    unsigned char hdr[16];
    memcpy(hdr, arp + 24, 16);
    for (int b = 0; b < 4; b++) {
      hdr[b] = (unsigned char)(sec[rec] >> (8 * b));
      hdr[4 + b] = (unsigned char)(usec[rec] >> (8 * b));
    }
    ck_assert_uint_eq(fwrite(hdr, 1, 16, f), 16);
    ck_assert_uint_eq(fwrite(arp + 40, 1, 42, f), 42);
  }
  ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_a_garbage_timestamp_is_a_fate) {
  char path[256];
  snprintf(path, sizeof path, "%s/bad-ts.pcap", tmpdir);
  const uint32_t sec[] = {1411297031, 1411297031}, usec[] = {0xffffffffu, 825552};
  write_arp_capture(path, 2, sec, usec);
  char args[512];
  snprintf(args, sizeof args, "replay %s --guest-ip 10.0.0.138", path);
  ck_assert_int_eq(run(args), 0);
  ck_assert_ptr_nonnull(strstr(out_buf, "bad_timestamp"));
  ck_assert_ptr_nonnull(strstr(out_buf, "answered"));
  ck_assert_ptr_nonnull(strstr(out_buf, "all accounted: yes"));
}
END_TEST

/* --max-frames reads only the start of a capture, and says so. */
START_TEST(test_max_frames_reads_the_start_only) {
  ck_assert_int_eq(run("replay tcpreplay_test.pcap --max-frames 10"), 0);
  ck_assert_ptr_nonnull(strstr(out_buf, "fates of 10 frames"));
  ck_assert_ptr_nonnull(strstr(out_buf, "only the first 10 frames were read"));
  ck_assert_int_eq(run("replay tcpreplay_test.pcap --max-frames 10 --json"), 0);
  ck_assert_ptr_nonnull(strstr(out_buf, "\"stopped_at_max_frames\":true"));
  ck_assert_int_eq(run("replay tcpdump_tftp.pcap --max-frames 7"), 0); /* exactly all */
  ck_assert_ptr_null(strstr(out_buf, "only the first"));
}
END_TEST

/* Numbers are decimal: a leading zero is not octal. */
START_TEST(test_numbers_are_decimal) {
  static char ten[sizeof out_buf];
  ck_assert_int_eq(run("demo --seed 10 --json"), 0);
  strcpy(ten, out_buf);
  ck_assert_int_eq(run("demo --seed 010 --json"), 0);
  ck_assert_str_eq(out_buf, ten);
  ck_assert_ptr_nonnull(strstr(out_buf, "\"seed\":10,"));
}
END_TEST

/* A full disk under stdout is a failed run with a reason, for every command
 * that prints a report. */
START_TEST(test_a_full_stdout_is_a_failure) {
  static const char *const calls[] = {"demo", "bugs --json", "story", "replay tcpdump_tftp.pcap"};
  for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd %s && '%s' %s >/dev/full 2>%s/err </dev/null",
             VNETSIM_CAPTURES_DIR, VNETSIM_BIN, calls[i], tmpdir);
    int st = system(cmd);
    char path[128];
    snprintf(path, sizeof path, "%s/err", tmpdir);
    slurp(path, err_buf, sizeof err_buf);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "'%s' >/dev/full exited %d", calls[i],
                  WEXITSTATUS(st));
    ck_assert_ptr_nonnull(strstr(err_buf, "writing the output failed"));
  }
}
END_TEST

/* The "name":{...} object in json, copied into buf. */
static void json_object(const char *json, const char *name, char *buf, size_t cap) {
  char key[64];
  snprintf(key, sizeof key, "\"%s\":{", name);
  const char *at = strstr(json, key);
  ck_assert_msg(at != NULL, "no %s in the output", name);
  size_t n = strcspn(at, "}") + 1;
  ck_assert_uint_lt(n, cap);
  memcpy(buf, at, n);
  buf[n] = '\0';
}

/* The ring format is the driver's and device's business: every public
 * capture gives each frame of either direction the same fate counts on a
 * packed ring as on a split one, and the story shows the same symptoms. */
START_TEST(test_both_ring_formats_give_the_same_fates) {
  DIR *d = opendir(VNETSIM_CAPTURES_DIR);
  ck_assert_ptr_nonnull(d);
  int compared = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (!strstr(e->d_name, ".pcap")) continue;
    char args[512], split[2][4096], packed[2][4096];
    snprintf(args, sizeof args, "replay '%s' --json", e->d_name);
    ck_assert_int_eq(run(args), 0);
    json_object(out_buf, "fates", split[0], sizeof split[0]);
    json_object(out_buf, "tx_fates", split[1], sizeof split[1]);
    snprintf(args, sizeof args, "replay '%s' --json --ring packed", e->d_name);
    ck_assert_int_eq(run(args), 0);
    json_object(out_buf, "fates", packed[0], sizeof packed[0]);
    json_object(out_buf, "tx_fates", packed[1], sizeof packed[1]);
    ck_assert_msg(!strcmp(split[0], packed[0]), "%s: %s vs %s", e->d_name, split[0], packed[0]);
    ck_assert_msg(!strcmp(split[1], packed[1]), "%s: %s vs %s", e->d_name, split[1], packed[1]);
    compared++;
  }
  closedir(d);
  ck_assert_int_ge(compared, 20);
  /* and the packed runs did run on packed rings */
  ck_assert_int_eq(run("replay tcpdump_tftp.pcap --ring packed"), 0);
  ck_assert_ptr_nonnull(strstr(out_buf, "rings (packed, position/wrap): rx driver avail"));
  ck_assert_int_eq(run("story --ring packed"), 0);
  ck_assert_ptr_nonnull(strstr(out_buf, "queue 256, packed ring)"));
  ck_assert_ptr_nonnull(strstr(out_buf, "host -> guest ping                       0/3 replied"));
  ck_assert_ptr_nonnull(strstr(out_buf, "frame 257 (sent at"));
  ck_assert_int_eq(run("demo --ring packed --bug used-slot-mod-256"), 2);
  ck_assert_ptr_nonnull(strstr(err_buf, "split ring"));
  ck_assert_int_eq(run("demo --ring ring"), 2);
}
END_TEST

static Suite *cli_suite(void) {
  Suite *s = suite_create("cli");
  TCase *tc = tcase_create("command");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_both_ring_formats_give_the_same_fates);
  tcase_add_test(tc, test_no_arguments_runs_the_demo);
  tcase_add_test(tc, test_demo_json_is_one_object);
  tcase_add_test(tc, test_same_seed_prints_same_output);
  tcase_add_test(tc, test_every_command_explains_itself);
  tcase_add_test(tc, test_fixed_latencies_give_fixed_round_trips);
  tcase_add_loop_test(tc, test_bad_input_exits_2_with_one_line, 0,
                      (int)(sizeof bad_calls / sizeof bad_calls[0]));
  tcase_add_test(tc, test_replay_writes_answers_and_fates);
  tcase_add_test(tc, test_bench_reports_ratio);
  tcase_add_test(tc, test_replay_check_reports_rules_by_section);
  tcase_add_test(tc, test_bugs_lists_every_switch);
  tcase_add_test(tc, test_the_readme_lists_every_rule);
  tcase_add_test(tc, test_story_prints_symptoms_side_by_side);
  tcase_add_test(tc, test_explore_finds_first_seed_and_reproduces_it);
  tcase_add_test(tc, test_explore_jobs_give_the_serial_answer);
  tcase_add_test(tc, test_replay_compare_lists_frames_that_differ);
  tcase_add_test(tc, test_a_full_stdout_is_a_failure);
  tcase_add_test(tc, test_numbers_are_decimal);
  tcase_add_test(tc, test_max_frames_reads_the_start_only);
  tcase_add_test(tc, test_a_garbage_timestamp_is_a_fate);
  tcase_add_test(tc, test_a_failed_run_clobbers_nothing);
  tcase_add_test(tc, test_json_escapes_bytes_and_errors_name_files_once);
  tcase_add_test(tc, test_wireshark_reads_our_pcap);
  tcase_add_test(tc, test_wireshark_reads_the_merged_capture);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(cli_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
