/* A library user's program, built by tests/library/check.sh against an
 * installed libvnetsim, once shared and once static. It defines its own
 * gmem_read, a name the library uses inside: the static archive keeps every
 * name but vns_ ones to itself, so this links, and each side calls its own
 * (the library reads guest memory to answer the ARP request; the program's
 * gmem_read adds one). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <vnetsim/vnetsim.h>

#define ARP_REQUEST_LEN 42u
#define FRAME_CAP       64u           /* room for the request, which is shorter */
#define FIRST_FRAME_NS  1000000000ull /* the request leaves the host at 1 s */

int gmem_read(int x);

int gmem_read(int x) { return x + 1; }

/* Injects a who-has for the guest and returns its fate, NULL on an error. */
static const char *arp_fate(vns_sim *sim) {
  uint8_t frame[FRAME_CAP];
  size_t len = vns_frame_arp_request(frame, sizeof frame, VNS_GUEST_IP);
  if (len != ARP_REQUEST_LEN || vns_sim_inject(sim, FIRST_FRAME_NS, frame, len) != 0) return NULL;
  if (vns_sim_run(sim, VNS_TIME_IDLE) < 0 || vns_sim_finish(sim) != 0) return NULL;
  return vns_sim_frame_fate(sim, 0);
}

int main(void) {
  vns_sim_opts o;
  vns_sim_opts_init(&o);
  vns_sim *sim = NULL;
  int err = vns_sim_new(&o, &sim);
  if (err != 0) {
    fprintf(stderr, "vns_sim_new: %s\n", vns_strerror(err));
    return 1;
  }
  const char *fate = arp_fate(sim);
  int ok = fate != NULL && strcmp(fate, "answered") == 0 && gmem_read(41) == 42;
  printf("libvnetsim %s: ARP request %s, the program's own gmem_read(41) = %d\n", vns_version(),
         fate != NULL ? fate : "(error)", gmem_read(41));
  vns_sim_free(sim);
  return ok ? 0 : 1;
}
