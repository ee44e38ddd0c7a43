/* The teaching view as one self-contained HTML page: an occupancy timeline
 * drawn as inline SVG (so it shows even without scripts), the run's data as
 * an embedded JSON block, and a few lines of plain JavaScript to step
 * through the recorded ring states from the timeline. Nothing is loaded
 * from anywhere else. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "emu/err.h"
#include "teach/teach.h"
#include "virtio/vbug.h"

#define HTML_COLS          600  /* timeline columns: the occupancy is downsampled to these */
#define HTML_W             1100 /* drawing width in SVG units */
#define HTML_X0            60   /* left margin for the axis labels */
#define HTML_GAP_NS        TEACH_IDLE_GAP_NS /* idle gaps longer than this are drawn this wide */
#define HTML_MAX_GAP_LINES 40
#define HTML_PLOT_W        (HTML_W - HTML_X0 - 10) /* the axis, less a right margin */
/* Largest queue a replay page keeps ring snapshots for: 300 steps of two
 * 1024-entry rings stay a few MB, and one step's tables draw in well under
 * 100 ms; a 32768-entry queue would take hundreds of MB and seconds. */
#define HTML_MAX_RING 1024u

static const char *const html_owner_colour[TEACH_OWN_COUNT] = {
    "#d9d9d9", "#3b82c4", "#8e44ad", "#27ae60", "#e74c3c", "#a9c9e8", "#a3d9b8"};

/* A JSON string literal that is also safe inside a <script> element. */
static void html_json_str(FILE *out, const char *s) {
  fputc('"', out);
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
    if (*p == '"' || *p == '\\')
      fprintf(out, "\\%c", *p);
    else if (*p < 0x20 || *p == '<' || *p == '>' || *p == '&')
      fprintf(out, "\\u%04x", *p);
    else
      fputc(*p, out);
  }
  fputc('"', out);
}

static void html_text(FILE *out, const char *s) {
  for (const char *p = s ? s : ""; *p; p++) {
    switch (*p) {
      case '&':
        fputs("&amp;", out);
        break;
      case '<':
        fputs("&lt;", out);
        break;
      case '>':
        fputs("&gt;", out);
        break;
      case '"':
        fputs("&quot;", out);
        break;
      default:
        fputc(*p, out);
    }
  }
}

static void html_time(char *buf, size_t cap, uint64_t ns) {
  if (ns >= 1000000000ull)
    snprintf(buf, cap, "%.3f s", (double)ns / 1e9);
  else if (ns >= 1000000ull)
    snprintf(buf, cap, "%.3f ms", (double)ns / 1e6);
  else
    snprintf(buf, cap, "%.3f us", (double)ns / 1e3);
}

/* Virtual time to drawing position, with long idle gaps compressed: the
 * points' cumulative x, where no gap counts for more than HTML_GAP_NS. */
typedef struct html_axis {
  const teach_point *p;
  size_t n;
  uint64_t *cx; /* compressed x of each point, in ns */
  uint64_t total;
  size_t gaps;
} html_axis;

static int html_axis_init(html_axis *a, const teach_point *p, size_t n) {
  memset(a, 0, sizeof *a);
  a->p = p;
  a->n = n;
  a->cx = calloc(n ? n : 1, sizeof *a->cx);
  if (!a->cx) return EMU_ENOMEM;
  for (size_t i = 1; i < n; i++) {
    uint64_t dt = p[i].t_ns - p[i - 1].t_ns;
    /* Only real idle time is compressed: the longest stretch without any
     * event between these two kept points, which the recorder measured over
     * every event (points dropped to save memory folded theirs in). Two
     * kept points far apart in a busy run are not a gap. */
    if (p[i].idle_ns > HTML_GAP_NS && p[i].idle_ns <= dt) {
      dt -= p[i].idle_ns - HTML_GAP_NS;
      a->gaps++;
    }
    a->cx[i] = a->cx[i - 1] + dt;
  }
  a->total = n ? a->cx[n - 1] : 0;
  if (!a->total) a->total = 1;
  return 0;
}

static uint64_t html_axis_cx(const html_axis *a, uint64_t t) {
  if (!a->n || t <= a->p[0].t_ns) return 0;
  size_t lo = 0, hi = a->n;
  while (hi - lo > 1) { /* last point at or before t */
    size_t mid = (lo + hi) / 2;
    if (a->p[mid].t_ns <= t)
      lo = mid;
    else
      hi = mid;
  }
  uint64_t dt = t - a->p[lo].t_ns;
  if (lo + 1 < a->n && a->cx[lo + 1] - a->cx[lo] < dt) dt = a->cx[lo + 1] - a->cx[lo];
  uint64_t x = a->cx[lo] + dt;
  return x > a->total ? a->total : x;
}

static double html_x(const html_axis *a, uint64_t t) {
  return HTML_X0 + (double)html_axis_cx(a, t) * HTML_PLOT_W / (double)a->total;
}

/* One band: the queue's heads per owner over time, stacked (used at the
 * bottom, then device, avail, lost, and free filling the rest). */
static void html_band(FILE *out, const html_axis *a, int q, uint16_t size, double y0, double h,
                      const char *label) {
  fprintf(
      out,
      "<g class=\"band\"><rect x=\"%d\" y=\"%.0f\" width=\"%d\" height=\"%.0f\" fill=\"%s\"/>\n",
      HTML_X0, y0, HTML_PLOT_W, h, html_owner_colour[TEACH_OWN_FREE]);
  fprintf(out, "<text x=\"4\" y=\"%.0f\" class=\"lbl\">%s</text>\n", y0 + h / 2, label);
  if (!a->n || !size) {
    fputs("</g>\n", out);
    return;
  }
  /* Per column, the last point that falls in it (or the one before). */
  enum { LAYERS = 6 };
  static const int order[LAYERS] = {TEACH_OWN_LOST,   TEACH_OWN_POSTED, TEACH_OWN_AVAIL,
                                    TEACH_OWN_DEVICE, TEACH_OWN_PUSHED, TEACH_OWN_USED};
  uint16_t cum[HTML_COLS + 1][LAYERS];
  size_t k = 0;
  for (int c = 0; c <= HTML_COLS; c++) {
    uint64_t limit = a->total * (uint64_t)c / HTML_COLS;
    while (k + 1 < a->n && a->cx[k + 1] <= limit) k++;
    const uint16_t *cnt = a->p[k].count[q];
    /* cumulative from the bottom: used, +pushed, +device, +avail, +posted, +lost */
    uint16_t sum = 0;
    for (int layer = LAYERS; layer-- > 0;)
      cum[c][layer] = sum = (uint16_t)(sum + cnt[order[layer]]);
  }
  double w = HTML_PLOT_W;
  for (int layer = 0; layer < LAYERS; layer++) {
    fprintf(out, "<polygon fill=\"%s\" points=\"%d,%.0f", html_owner_colour[order[layer]], HTML_X0,
            y0 + h);
    for (int c = 0; c <= HTML_COLS; c++) {
      uint16_t v = cum[c][layer] > size ? size : cum[c][layer];
      fprintf(out, " %.1f,%.1f", HTML_X0 + w * c / HTML_COLS, y0 + h - h * v / size);
    }
    fprintf(out, " %d,%.0f\"/>\n", HTML_X0 + HTML_PLOT_W, y0 + h);
  }
  fprintf(out, "<text x=\"%d\" y=\"%.0f\" class=\"tick\">%u</text>", HTML_X0 - 4, y0 + 9, size);
  fprintf(out, "<text x=\"%d\" y=\"%.0f\" class=\"tick\">0</text></g>\n", HTML_X0 - 4, y0 + h);
}

static void html_marks(FILE *out, const html_axis *a, const teach_rec *r, int what, double y,
                       double len, const char *colour, const char *name) {
  size_t n;
  uint64_t total;
  const teach_mark *m = teach_rec_marks(r, what, &n, &total);
  /* each row labelled: the rx row on top, the tx row under it */
  for (int q = 0; q < 2; q++)
    fprintf(out,
            "<text x=\"4\" y=\"%.0f\" class=\"tick\" style=\"text-anchor:start\">%s %s</text>\n",
            y + len + (q ? len + 2 : 0), name, q ? "tx" : "rx");
  fprintf(out, "<g class=\"marks\" stroke=\"%s\"><title>%s: %" PRIu64 "%s</title>\n", colour, name,
          total, n < total ? " (sampled)" : "");
  for (size_t i = 0; i < n; i++) {
    double x = html_x(a, m[i].t_ns);
    double yy = y + (m[i].queue == VNET_TXQ ? len + 2 : 0);
    fprintf(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.0f\" y2=\"%.0f\"/>", x, x, yy, yy + len);
  }
  fputs("</g>\n", out);
}

/* A drop reason's colour: reds to oranges, so drops stand out from the bands. */
static unsigned html_drop_hue(unsigned fate) { return fate * 37u % 50u; }

static void html_drops(FILE *out, const html_axis *a, const teach_rec *r, double y) {
  size_t n;
  uint64_t total;
  const teach_mark *m = teach_rec_marks(r, TEACH_MARK_DROP, &n, &total);
  char tbuf[32];
  for (size_t i = 0; i < n; i++) {
    double x = html_x(a, m[i].t_ns);
    unsigned hue = html_drop_hue(m[i].fate);
    html_time(tbuf, sizeof tbuf, m[i].t_ns);
    fprintf(
        out,
        "<path class=\"drop\" d=\"M%.1f %.0fl-4 -8h8z\" fill=\"hsl(%u,70%%,45%%)\"><title>frame "
        "%" PRId64 ": %s at %s</title></path>\n",
        x, y, hue, m[i].frame + 1, emu_fate_name((emu_fate)m[i].fate), tbuf);
  }
  m = teach_rec_marks(r, TEACH_MARK_VIOLATION, &n, &total);
  for (size_t i = 0; i < n; i++) {
    double x = html_x(a, m[i].t_ns);
    html_time(tbuf, sizeof tbuf, m[i].t_ns);
    fprintf(out,
            "<circle cx=\"%.1f\" cy=\"%.0f\" r=\"4\" fill=\"#000\"><title>rule broken at "
            "%s</title></circle>\n",
            x, y - 4, tbuf);
  }
}

/* The fates ledger l can hold (direction dir), 0s included. */
static void html_fates_json(FILE *out, const emu_fates *l, unsigned dir) {
  const char *sep = "";
  for (int i = EMU_FATE_PENDING + 1; i < EMU_FATE_COUNT; i++) {
    if (!(emu_fate_directions((emu_fate)i) & dir)) continue;
    fprintf(out, "%s\"%s\":%" PRIu64, sep, emu_fate_name((emu_fate)i), l->counts[i]);
    sep = ",";
  }
}

static void html_counters_json(FILE *out, const scn *s) {
  fprintf(out, "\"counters\":{\"frames_in\":%zu,\"fates\":{", s->fates.nframes);
  html_fates_json(out, &s->fates, EMU_FATE_TO_GUEST);
  fprintf(out, "},\"tx_frames\":%zu,\"tx_fates\":{", s->tx_fates.nframes);
  html_fates_json(out, &s->tx_fates, EMU_FATE_TO_HOST);
  const vnet_drv_stats *dr = &s->drv.stats;
  const vnet_dev_stats *dv = &s->dev.stats;
  fprintf(out,
          "},\"frames_out\":%" PRIu64 ",\"kicks\":{\"rx\":%" PRIu64 ",\"tx\":%" PRIu64
          "},\"kicks_suppressed\":{\"rx\":%" PRIu64 ",\"tx\":%" PRIu64
          "},\"kicks_received\":{\"rx\":%" PRIu64 ",\"tx\":%" PRIu64 "},\"interrupts\":%" PRIu64
          ",\"interrupts_suppressed\":%" PRIu64 ",\"interrupts_received\":%" PRIu64 "}",
          s->guest_frames, dr->kicks[VNET_RXQ], dr->kicks[VNET_TXQ], dr->kicks_suppressed[VNET_RXQ],
          dr->kicks_suppressed[VNET_TXQ], dv->kicks[VNET_RXQ], dv->kicks[VNET_TXQ], dv->interrupts,
          dv->interrupts_suppressed, dr->interrupts);
}

/* A JSON array member of an object that has members before it; n counts
 * its items. */
static void html_array(FILE *out, const char *name, int *n) {
  fprintf(out, ",\"%s\":[", name);
  *n = 0;
}

/* The comma before every item but the first. */
static void html_item(FILE *out, int *n) {
  if ((*n)++) fputc(',', out);
}

/* A packed ring's size and header: both event suppression structures, then
 * both sides' cursors (position, wrap counter) and the driver's free count. */
static void html_packed_head_json(FILE *out, const teach_ring *g) {
  fprintf(out, "{\"n\":%u,\"p\":1,\"h\":[%u,%u,%u,%u,%u,%u,%u,%u,%u,%u,%u,%u,%u],\"hw\":%u,\"c\":[",
          g->size, g->drv_event_flags, g->drv_event_desc, g->dev_event_flags, g->dev_event_desc,
          g->drv_next_avail.pos, g->drv_next_avail.wrap, g->drv_next_used.pos,
          g->drv_next_used.wrap, g->drv_num_free, g->dev_next_avail.pos, g->dev_next_avail.wrap,
          g->dev_next_used.pos, g->dev_next_used.wrap, g->hdr_wrote);
}

/* A ring as the changes from the previous kept ring of the same queue. */
static void html_ring_json(FILE *out, const teach_ring *g, const teach_ring *prev) {
  static const teach_ring zero;
  if (!prev || prev->size != g->size) prev = &zero;
  int have = prev->size == g->size && prev->desc;
  if (g->packed)
    html_packed_head_json(out, g);
  else
    fprintf(out, "{\"n\":%u,\"h\":[%u,%u,%u,%u,%u,%u,%u,%u,%u,%u,%u],\"hw\":%u,\"c\":[", g->size,
            g->avail_flags, g->avail_idx, g->used_event, g->used_flags, g->used_idx, g->avail_event,
            g->drv_avail_shadow, g->drv_last_used, g->drv_num_free, g->dev_last_avail,
            g->dev_used_shadow, g->hdr_wrote);
  for (int o = 0; o < TEACH_OWN_COUNT; o++) fprintf(out, "%s%u", o ? "," : "", g->count[o]);
  fputc(']', out);
  int n;
  /* what the step wrote, slot by slot (TEACH_W_*): marked even when the
   * value is the one memory already held */
  html_array(out, "w", &n);
  for (uint32_t i = 0; i < g->size; i++) {
    if (!g->wrote[i]) continue;
    html_item(out, &n);
    fprintf(out, "[%u,%u]", i, g->wrote[i]);
  }
  fputc(']', out);
  html_array(out, "d", &n);
  for (uint32_t i = 0; i < g->size; i++) {
    const teach_desc *d = &g->desc[i];
    if (have ? !memcmp(d, &prev->desc[i], sizeof *d)
             : !(d->addr | d->len | d->flags | d->next | d->id))
      continue;
    html_item(out, &n);
    /* a packed ring's descriptor has an id where a split one has next */
    fprintf(out, "[%u,%" PRIu64 ",%u,%u,%u]", i, d->addr, d->len, d->flags,
            g->packed ? d->id : d->next);
  }
  fputc(']', out);
  html_array(out, "a", &n);
  for (uint32_t i = 0; i < g->size; i++) {
    if (have ? g->avail[i] == prev->avail[i] : !g->avail[i]) continue;
    html_item(out, &n);
    fprintf(out, "[%u,%u]", i, g->avail[i]);
  }
  fputc(']', out);
  html_array(out, "u", &n);
  for (uint32_t i = 0; i < g->size; i++) {
    const teach_used_elem *u = &g->used[i];
    if (have ? (u->id == prev->used[i].id && u->len == prev->used[i].len) : !(u->id | u->len))
      continue;
    html_item(out, &n);
    fprintf(out, "[%u,%u,%u]", i, u->id, u->len);
  }
  fputc(']', out);
  html_array(out, "o", &n);
  for (uint32_t i = 0; i < g->size; i++) {
    if (have ? g->owner[i] == prev->owner[i] : !g->owner[i]) continue;
    html_item(out, &n);
    fprintf(out, "[%u,%u]", i, g->owner[i]);
  }
  fputs("]}", out);
}

static const char *const html_kind_names[TEACH_K_COUNT] = {
    "status", "post",    "publish", "dev_take",  "dev_push", "dev_publish",
    "irq",    "consume", "drop",    "violation", "fast",     "setup"};

static const char html_style[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:16px;color:#222;background:#fff}"
    "h1{font-size:20px;margin:0 0 4px}.sub{color:#555;margin:0 0 10px}"
    "table.k{border-collapse:collapse;margin:6px 0}table.k td,table.k th{padding:1px 8px;"
    "border-bottom:1px solid #eee;text-align:right}"
    "svg{display:block;border:1px solid #ccc;background:#fafafa;cursor:crosshair}"
    ".lbl{font-size:12px;fill:#333}.tick{font-size:10px;fill:#555;text-anchor:end}"
    ".axis{font-size:10px;fill:#555}.marks line{stroke-width:1}"
    ".legend span{display:inline-block;margin-right:14px}.sw{display:inline-block;width:12px;"
    "height:12px;vertical-align:middle;margin-right:4px;border:1px solid #999}"
    "#step{margin-top:12px;border:1px solid #ccc;padding:8px 12px}"
    "#step h2{font-size:16px;margin:4px 0}#step .wrong{color:#c0392b;font-weight:bold}"
    ".rings{display:flex;gap:18px;align-items:flex-start;flex-wrap:wrap}"
    ".rings table{border-collapse:collapse;font:12px monospace}"
    ".rings td,.rings th{padding:0 6px;text-align:right;border-bottom:1px solid #eee}"
    ".ch{background:#ffe066}.stale{color:#999}button{margin-right:6px}"
    ".o0{color:#777}.o1{color:#3b82c4}.o2{color:#8e44ad}.o3{color:#27ae60}.o4{color:#e74c3c;"
    "font-weight:bold}.o5{color:#6f9fc9;font-style:italic}.o6{color:#4f9f6f;font-style:italic}"
    ".note{color:#666;font-size:12px}b.ch{background:#ffe066}";

/* Rebuilds every kept step's rings from the deltas, draws one step's three
 * tables (what the step wrote highlighted, never-written entries as -), and
 * moves with the buttons, the arrow keys, the step axis and timeline clicks:
 * html_script_head, then the tables of the run's ring format, then
 * html_script_tail. */
static const char html_script_head[] =
    "(function(){\n"
    "var D=JSON.parse(document.getElementById('vnetsim-data').textContent);\n"
    "var S=D.steps,last={},full=[];\n"
    "S.forEach(function(s){var f={};['rx','tx'].forEach(function(q){var "
    "r=s.rings[q];if(!r)return;\n"
    " var "
    "p=last[q]&&last[q].n==r.n?last[q]:{n:r.n,d:[],a:[],u:[],o:[]},g={n:r.n,h:r.h,hw:r.hw,c:r.c,\n"
    " d:p.d.slice(),a:p.a.slice(),u:p.u.slice(),o:p.o.slice(),w:[]};\n"
    " for(var i=0;i<r.n;i++){if(!g.d[i])g.d[i]=[0,0,0,0];if(g.a[i]==null)g.a[i]=0;\n"
    "  if(!g.u[i])g.u[i]=[0,0];if(g.o[i]==null)g.o[i]=0;g.w[i]=0;}\n"
    " r.d.forEach(function(e){g.d[e[0]]=e.slice(1)});r.a.forEach(function(e){g.a[e[0]]=e[1]});\n"
    " r.u.forEach(function(e){g.u[e[0]]=[e[1],e[2]]});r.o.forEach(function(e){g.o[e[0]]=e[1]});\n"
    " r.w.forEach(function(e){g.w[e[0]]=e[1]});f[q]=last[q]=g;});full.push(f);});\n"
    "var cur=0,OWN=['free','avail','device','used','lost','posted','pushed'],\n"
    " FL=function(f){return ((f&1)?'N':'')+((f&2)?'W':'')+((f&4)?'I':'')||'-'};\n"
    "function cell(v,ch,cls){return '<td class=\"'+(ch?'ch ':'')+(cls||'')+'\">'+v+'</td>'}\n"
    "function fld(name,v,ch){return name+' <b class=\"'+(ch?'ch':'')+'\">'+v+'</b> '}\n"
    "function prevAt(i,q){for(var j=i-1;j>=0;j--){var s=S[j];if((s.q||'rx')==q&&full[j][q])return "
    "j;}\n"
    " return -1}\n"
    "function prevOf(i,q){var j=prevAt(i,q);return j<0?null:full[j][q]}\n"
    "/* what was written into queue q since it was last shown (steps on the other\n"
    " * queue in between), with this step's own writes */\n"
    "function since(i,q,g){var j=prevAt(i,q),G=Object.create(g);G.w=g.w.slice();G.hw=g.hw;\n"
    " if(D.step_stride>1)return G;\n"
    " for(var k=j+1;k<i;k++){var o=full[k][q];if(!o||o.n!=g.n)continue;G.hw|=o.hw;\n"
    "  for(var x=0;x<g.n;x++)G.w[x]|=o.w[x];}return G}\n"
    "function keys(o){return Object.keys(o).map(Number).sort(function(x,y){return x-y})}\n";

/* The split ring's tables: the descriptor table, the available ring and
 * the used ring, and both sides' index cursors. */
static const char html_script_split[] =
    "function pick(g){if(g.n<=64)return null;var n=g.n,m=n-1,H=g.h,s={},d={},k;\n"
    " [H[6],H[9],H[7],H[10]].forEach(function(c){for(var j=-4;j<=4;j++)s[(c+j)&m]=1});\n"
    " for(k=0;k<n;k++){if(g.w[k]&6)s[k]=1;if(g.w[k]&1)d[k]=1;}\n"
    " keys(s).forEach(function(k){d[g.a[k]&m]=1;if(g.u[k][0]<n)d[g.u[k][0]]=1});\n"
    " return {s:keys(s),d:keys(d)}}\n"
    "function rows(list,n,cols,f){var h='',p=-1,gap='<tr><td colspan='+cols+' "
    "class=\"stale\">&hellip;</td></tr>';\n"
    " if(!list){for(var k=0;k<n;k++)h+=f(k);return h}\n"
    " list.forEach(function(k){if(k>p+1)h+=gap;h+=f(k);p=k});return h+(p<n-1?gap:'')}\n"
    "function desc(g,P,L){var h='<table><tr><th colspan=6>descriptor "
    "table</th></tr><tr><th>#</th>'+\n"
    " '<th>addr</th><th>len</th><th>flags</th><th>next</th><th>owner</th></tr>';\n"
    " h+=rows(L&&L.d,g.n,6,function(k){var "
    "d=g.d[k],w=(g.w[k]&1)!=0,blank=!(d[0]||d[1]||d[2]||d[3]);\n"
    "  return "
    "'<tr><td>'+k+'</td>'+cell(blank?'-':'0x'+d[0].toString(16),w)+cell(blank?'':d[1],w)+\n"
    "  cell(blank?'':FL(d[2]),w)+cell(blank?'':d[3],w)+\n"
    "  cell(OWN[g.o[k]],P&&g.o[k]!=P.o[k],'o'+g.o[k])+'</tr>'});\n"
    " return h+'</table>'}\n"
    "function avail(g,L){var n=g.n,m=n-1,H=g.h,h='<table><tr><th colspan=3>available "
    "ring</th></tr>'+\n"
    " '<tr><td "
    "colspan=3>'+fld('flags',H[0],g.hw&1)+fld('idx',H[1],g.hw&2)+fld('used_event',H[2],g.hw&4)+\n"
    " '</td></tr><tr><th>slot</th><th>head</th><th></th></tr>';\n"
    " h+=rows(L&&L.s,n,3,function(k){var live=((k-H[9])&m)<Math.min(n,(H[6]-H[9])&0xffff),\n"
    "  ever=H[6]>=n||k<H[6];\n"
    "  return "
    "'<tr><td>'+k+'</td>'+cell(ever?g.a[k]:'-',(g.w[k]&2)!=0,live||!ever?'':'stale')+'<td>'+\n"
    "  ((k==(H[6]&m)?'&larr;drv ':'')+(k==(H[9]&m)?'&larr;dev':''))+'</td></tr>'});\n"
    " return h+'</table>'}\n"
    "function used(g,L){var n=g.n,m=n-1,H=g.h,h='<table><tr><th colspan=4>used ring</th></tr>'+\n"
    " '<tr><td colspan=4>'+fld('flags',H[3],g.hw&8)+fld('idx',H[4],g.hw&16)+\n"
    " fld('avail_event',H[5],g.hw&32)+'</td></tr><tr><th>slot</th><th>id</th><th>len</th><th></"
    "th></tr>';\n"
    " h+=rows(L&&L.s,n,4,function(k){var u=g.u[k],w=(g.w[k]&4)!=0,\n"
    "  "
    "lv=((k-H[7])&m)<Math.min(n,(H[10]-H[7])&0xffff),ever=H[10]>=n||k<H[10],c=lv||!ever?'':'stale';"
    "\n"
    "  return '<tr><td>'+k+'</td>'+cell(ever?u[0]:'-',w,c)+cell(ever?u[1]:'-',w,c)+'<td>'+\n"
    "  ((k==(H[7]&m)?'&larr;drv ':'')+(k==(H[10]&m)?'&larr;dev':''))+'</td></tr>'});\n"
    " return h+'</table>'}\n"
    "function cursors(g,P){var H=g.h,ch=function(k){return P&&P.h[k]!=H[k]};\n"
    " return '<div class=\"note\">driver: "
    "'+fld('avail_idx_shadow',H[6],ch(6))+fld('last_used_idx',H[7],ch(7))+\n"
    " fld('free',H[8],ch(8))+'; device: '+fld('last_avail_idx',H[9],ch(9))+\n"
    " fld('used_idx_shadow',H[10],ch(10))+'; owners: '+\n"
    " g.c.map(function(v,j){return v+' '+OWN[j]}).filter(function(t){return t[0]!='0'}).join(', "
    "')+'</div>'}\n";

/* The same four drawing functions for a packed ring (§2.8): desc draws the
 * descriptor ring with each position's AVAIL and USED bits, avail and used
 * the driver's and the device's event suppression structures, cursors both
 * sides' positions and wrap counters and the two tests of §2.8.1. */
static const char html_script_packed[] =
    "function pick(g){if(g.n<=64)return null;var n=g.n,H=g.h,s={},k;\n"
    " [H[4],H[6],H[9],H[11]].forEach(function(c){for(var j=-4;j<=4;j++)s[((c+j)%n+n)%n]=1});\n"
    " for(k=0;k<n;k++)if(g.w[k])s[k]=1;var l=keys(s);return {s:l,d:l}}\n"
    "function rows(list,n,cols,f){var h='',p=-1,gap='<tr><td colspan='+cols+' "
    "class=\"stale\">&hellip;</td></tr>';\n"
    " if(!list){for(var k=0;k<n;k++)h+=f(k);return h}\n"
    " list.forEach(function(k){if(k>p+1)h+=gap;h+=f(k);p=k});return h+(p<n-1?gap:'')}\n"
    "var EV=['ENABLE','DISABLE','DESC','reserved'];\n"
    "function tags(g,k){var H=g.h,a=[],u=[];if(H[4]==k)a.push('drv');if(H[9]==k)a.push('dev');\n"
    " if(H[6]==k)u.push('drv');if(H[11]==k)u.push('dev');\n"
    " return (a.length?'&larr;avail:'+a.join(',')+' "
    "':'')+(u.length?'&larr;used:'+u.join(','):'')}\n"
    "function desc(g,P,L){var h='<table><tr><th colspan=9>descriptor ring</th></tr><tr>'+\n"
    " '<th>pos</th><th>addr</th><th>len</th><th>id</th><th>flags</th><th>A</th><th>U</th>'+\n"
    " '<th>owner</th><th></th></tr>';\n"
    " h+=rows(L&&L.s,g.n,9,function(k){var d=g.d[k],w=g.w[k]!=0,blank=!(d[0]||d[1]||d[2]||d[3]);\n"
    "  return "
    "'<tr><td>'+k+'</td>'+cell(blank?'-':'0x'+d[0].toString(16),w)+cell(blank?'':d[1],w)+\n"
    "  "
    "cell(blank?'':d[3],w)+cell(blank?'':FL(d[2]&7),w)+cell((d[2]>>7)&1,w)+cell((d[2]>>15)&1,w)+\n"
    "  cell(OWN[g.o[k]],P&&g.o[k]!=P.o[k],'o'+g.o[k])+'<td>'+tags(g,k)+'</td></tr>'});\n"
    " return h+'</table>'}\n"
    "function ev(who,fl,de,hw,bf,bd){return '<table><tr><th colspan=2>'+who+' event suppression'+\n"
    " '</th></tr><tr><td>flags</td>'+cell(EV[fl&3],hw&bf)+'</tr><tr><td>off</td>'+\n"
    " cell(de&0x7fff,hw&bd)+'</tr><tr><td>wrap</td>'+cell(de>>15,hw&bd)+'</tr></table>'}\n"
    "function avail(g,L){return ev('driver',g.h[0],g.h[1],g.hw,1,4)}\n"
    "function used(g,L){return ev('device',g.h[2],g.h[3],g.hw,8,32)}\n"
    "function test(g,dev){var H=g.h,p=dev?H[9]:H[6],w=dev?H[10]:H[7],f=g.d[p]?g.d[p][2]:0,\n"
    " a=(f>>7)&1,u=(f>>15)&1,y=dev?(a==w&&u!=w):(a==w&&u==w);\n"
    " return 'next for the '+(dev?'device':'driver')+': position '+p+', AVAIL '+a+' USED '+u+\n"
    " ', wrap counter '+w+': '+(dev?(y?'available':'not available'):(y?'used':'not used'))}\n"
    "function cursors(g,P){var H=g.h,ch=function(k){return P&&P.h[k]!=H[k]};\n"
    " return '<div class=\"note\">driver: '+fld('next_avail',H[4],ch(4))+fld('wrap',H[5],ch(5))+\n"
    " fld('next_used',H[6],ch(6))+fld('wrap',H[7],ch(7))+fld('free',H[8],ch(8))+'; device: '+\n"
    " fld('next_avail',H[9],ch(9))+fld('wrap',H[10],ch(10))+fld('next_used',H[11],ch(11))+\n"
    " fld('wrap',H[12],ch(12))+'<br>'+test(g,1)+'<br>'+test(g,0)+'<br>owners: '+\n"
    " g.c.map(function(v,j){return v+' '+OWN[j]}).filter(function(t){return t[0]!='0'}).join(', "
    "')+'</div>'}\n";

/* Shows a step and moves between steps; the same for both ring formats. */
static const char html_script_tail[] =
    "var ON={rx:'rx queue',tx:'tx queue',status:'device status',both:'both queues'};\n"
    "function show(i){if(!S.length)return;cur=Math.max(0,Math.min(S.length-1,i));var s=S[cur],\n"
    " q=s.q||'rx',g=full[cur][q],P=g?prevOf(cur,q):null,h='';if(P&&P.n!=g.n||D.step_stride>1)P="
    "null;\n"
    " h+='<div>step '+(cur+1)+' of '+S.length+' kept (run step '+(s.i+1)+' of '+D.steps_total+\n"
    "  '), t = '+(s.t/1000).toFixed(3)+' us, '+(ON[s.on]||q)+'</div>';\n"
    " if(s.wrong)h+='<div class=\"wrong\">'+(s.wrong==1?'Here it goes wrong':'A "
    "consequence')+'</div>';\n"
    " h+='<h2></h2><p class=\"txt\"></p>';\n"
    " if(g){g=since(cur,q,g);var L=pick(g);h+=(L?'<div class=\"note\">'+g.n+' entries: only the "
    "slots near the '+\n"
    " 'cursors, those the step wrote and the descriptors they name are drawn (&hellip;: rows left "
    "out).</div>':'')+\n"
    " '<div class=\"rings\">'+desc(g,P,L)+avail(g,L)+used(g,L)+'</div>'+cursors(g,P);}\n"
    " var "
    "el=document.getElementById('step');el.innerHTML=h;el.querySelector('h2').textContent=s.title;"
    "\n"
    " el.querySelector('.txt').textContent=s.text;if(s.hdr){var d=document.createElement('div'),\n"
    " N=['flags','gso_type','hdr_len','gso_size','csum_start','csum_offset','num_buffers'];\n"
    " d.className='note';d.id='net-hdr';d.textContent='virtio_net_hdr at '+s.hdr[9]+' "
    "('+s.hdr[8]+\n"
    " '), as the '+s.hdr[7]+': '+N.map(function(n,k){return n+' '+s.hdr[k]}).join(', ');\n"
    " el.appendChild(d);}if(s.ind){var t='<table id=\"indirect\"><tr><th colspan=5>indirect table "
    "at '+\n"
    " s.ind.at+' (head '+s.ind.head+', '+s.ind.n+' "
    "entries)</th></tr><tr><th>#</th><th>addr</th>'+\n"
    " '<th>len</th><th>flags</th><th>next</th></"
    "tr>';s.ind.d.forEach(function(x,k){t+='<tr><td>'+k+\n"
    " '</td><td>0x'+x[0].toString(16)+'</td><td>'+x[1]+'</td><td>'+FL(x[2])+'</td><td>'+x[3]+\n"
    " '</td></tr>'});var "
    "w=document.createElement('div');w.className='rings';w.innerHTML=t+'</table>';\n"
    " el.appendChild(w);}if(s.sb){var b=document.createElement('div');\n"
    " b.className='note';b.textContent='store buffers (not visible to the other side yet): "
    "driver: '+\n"
    " s.sb[0]+'; device: '+s.sb[1];el.appendChild(b);}var c=document.getElementById('cursor');\n"
    " c.setAttribute('x1',s.x);c.setAttribute('x2',s.x);\n"
    " var ax=document.getElementById('stepaxis');ax.value=cur+1;\n"
    " document.getElementById('stepno').textContent='step '+(cur+1)+' of '+S.length;}\n"
    "document.getElementById('prev').onclick=function(){show(cur-1)};\n"
    "document.getElementById('next').onclick=function(){show(cur+1)};\n"
    "var ax=document.getElementById('stepaxis');ax.max=Math.max(1,S.length);\n"
    "ax.oninput=function(){show(parseInt(ax.value,10)-1)};\n"
    "document.addEventListener('keydown',function(e){if(e.key=='ArrowLeft')show(cur-1);\n"
    " if(e.key=='ArrowRight')show(cur+1)});\n"
    "var svg=document.getElementById('timeline');svg.addEventListener('click',function(e){\n"
    " var b=svg.getBoundingClientRect(),x=(e.clientX-b.left)*svg.viewBox.baseVal.width/b.width,\n"
    " best=0;S.forEach(function(s,i){if(Math.abs(s.x-x)<Math.abs(S[best].x-x))best=i});show(best)})"
    ";\n"
    "window.vnetsimShow=show;\n"
    "function walk(){var bad=[],max=0,sum=0;for(var i=0;i<S.length;i++){var t0=performance.now();\n"
    " ax.value=i+1;ax.oninput();var dt=performance.now()-t0;max=Math.max(max,dt);sum+=dt;\n"
    " var el=document.getElementById('step');if(document.getElementById('stepno').textContent!=\n"
    "  'step '+(i+1)+' of "
    "'+S.length||el.querySelector('h2').textContent!=S[i].title)bad.push(i+1);}\n"
    " var r=document.createElement('pre');r.id='walk-result';r.textContent='reached '+\n"
    "  (S.length-bad.length)+' of '+S.length+' steps; bad ['+bad.join(',')+']; render ms max '+\n"
    "  max.toFixed(1)+' avg '+(S.length?sum/S.length:0).toFixed(1)+'; dom '+\n"
    "  document.getElementsByTagName('*').length;document.body.appendChild(r);}\n"
    "var m=/step=(\\d+)/.exec(location.hash);if(/walk/.test(location.hash))walk();\n"
    "show(m?parseInt(m[1],10)-1:0);})();\n";

/* The page's title, heading and one line about the run. */
static void html_head(FILE *out, const scn *s, const char *title, const char *source,
                      const char *bugs, uint64_t span) {
  char tbuf[32];
  fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>", out);
  html_text(out, title);
  fprintf(out, "</title>\n<style>%s</style></head><body>\n<h1>", html_style);
  html_text(out, title);
  html_time(tbuf, sizeof tbuf, span);
  fprintf(out,
          "</h1>\n<p class=\"sub\">vnetsim %s: seed %" PRIu64
          ", queue size %u, bugs %s, %zu "
          "frames host&rarr;guest, %zu guest&rarr;host, %s of virtual time.</p>\n",
          source, s->cfg.seed, teach_queue_size(s, VNET_RXQ), bugs, s->fates.nframes,
          s->tx_fates.nframes, tbuf);
  const char *model = teach_memory_name(s);
  if (model)
    fprintf(out,
            "<p class=\"sub\">Memory model %s: a store reaches the other side 0..%" PRIu64
            " ns after it is made. The rings drawn are guest memory as both sides see it; each "
            "step also lists the stores still in each side's store buffer.</p>\n",
            model, s->mm.max_delay_ns);
}

/* The fates that happened, in both ledgers, and the notification counts. */
static void html_counters(FILE *out, const scn *s) {
  fputs(
      "<table class=\"k\"><tr><th style=\"text-align:left\">fate</th><th>host&rarr;guest</th>"
      "<th>guest&rarr;host</th></tr>",
      out);
  for (int i = EMU_FATE_PENDING + 1; i < EMU_FATE_COUNT; i++)
    if (s->fates.counts[i] || s->tx_fates.counts[i])
      fprintf(out,
              "<tr><td style=\"text-align:left\">%s</td><td>%" PRIu64 "</td><td>%" PRIu64
              "</td></tr>",
              emu_fate_name((emu_fate)i), s->fates.counts[i], s->tx_fates.counts[i]);
  fprintf(out,
          "</table>\n<p id=\"counts\">kicks (available buffer notifications) sent: rx %" PRIu64
          " (suppressed %" PRIu64 "), tx %" PRIu64 " (suppressed %" PRIu64
          "); interrupts (used buffer notifications) raised %" PRIu64 " (suppressed %" PRIu64
          ")</p>\n",
          s->drv.stats.kicks[VNET_RXQ], s->drv.stats.kicks_suppressed[VNET_RXQ],
          s->drv.stats.kicks[VNET_TXQ], s->drv.stats.kicks_suppressed[VNET_TXQ],
          s->dev.stats.interrupts, s->dev.stats.interrupts_suppressed);
}

static void html_owner_legend(FILE *out, int packed) {
  static const struct {
    int owner;
    const char *label;
  } items[] = {{TEACH_OWN_FREE, "free"},
               {TEACH_OWN_POSTED, "posted (not yet published)"},
               {TEACH_OWN_AVAIL, "available"},
               {TEACH_OWN_DEVICE, "in flight (device)"},
               {TEACH_OWN_PUSHED, "pushed (not yet published)"},
               {TEACH_OWN_USED, "used"},
               {TEACH_OWN_LOST, "lost"}};
  fputs("<div class=\"legend\" id=\"owner-legend\">", out);
  for (size_t i = 0; i < sizeof items / sizeof items[0]; i++)
    /* a packed ring hands over as it writes: nothing is posted or pushed */
    if (!packed || (items[i].owner != TEACH_OWN_POSTED && items[i].owner != TEACH_OWN_PUSHED))
      fprintf(out, "<span><i class=\"sw\" style=\"background:%s\"></i>%s</span>",
              html_owner_colour[items[i].owner], items[i].label);
  fputs(
      "<span>| tick rows, each labelled with its queue: blue, kicks sent; orange, "
      "interrupts raised; triangles: drops by reason (hover)</span></div>\n",
      out);
}

/* Where the timeline's parts go, top to bottom. */
typedef struct html_geom {
  double top, band_rx, y_tx, band_tx, height;
} html_geom;

static html_geom html_geometry(void) {
  const double top = 24, band_rx = 150, gap = 34, band_tx = 90;
  double y_tx = top + band_rx + gap;
  return (html_geom){top, band_rx, y_tx, band_tx, y_tx + band_tx + 30};
}

/* A dashed line in the middle of each compressed idle gap (when there are
 * few enough to draw). Returns how many. */
static size_t html_gap_lines(FILE *out, const html_axis *a, const html_geom *gm) {
  size_t lines = 0;
  for (size_t i = 1; i < a->n && a->gaps <= HTML_MAX_GAP_LINES; i++)
    if (a->p[i].idle_ns > HTML_GAP_NS && a->p[i].idle_ns <= a->p[i].t_ns - a->p[i - 1].t_ns) {
      double x =
          html_x(a, a->p[i - 1].t_ns) + (html_x(a, a->p[i].t_ns) - html_x(a, a->p[i - 1].t_ns)) / 2;
      fprintf(out,
              "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.0f\" y2=\"%.0f\" stroke=\"#999\" "
              "stroke-dasharray=\"2 4\"/>\n",
              x, x, gm->top, gm->y_tx + gm->band_tx);
      lines++;
    }
  return lines;
}

/* The virtual time under each fifth of the axis. */
static void html_axis_labels(FILE *out, const html_axis *a, const html_geom *gm) {
  char tbuf[32];
  for (int k = 0; k <= 4; k++) {
    uint64_t want = a->total * (uint64_t)k / 4;
    size_t i = 0;
    while (i + 1 < a->n && a->cx[i + 1] <= want) i++;
    uint64_t t = a->n ? a->p[i].t_ns + (want - a->cx[i]) : 0;
    html_time(tbuf, sizeof tbuf, t);
    fprintf(out, "<text class=\"axis\" x=\"%.0f\" y=\"%.0f\" text-anchor=\"%s\">%s</text>\n",
            HTML_X0 + HTML_PLOT_W * k / 4.0, gm->height - 10,
            k == 0   ? "start"
            : k == 4 ? "end"
                     : "middle",
            tbuf);
  }
}

/* The occupancy timeline as inline SVG. Returns the gap lines drawn. */
static size_t html_timeline(FILE *out, const scn *s, const teach_rec *r, const html_axis *a) {
  html_geom gm = html_geometry();
  fprintf(out,
          "<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %.0f\" "
          "width=\"100%%\" role=\"img\" aria-label=\"ring occupancy over virtual time\">\n",
          HTML_W, gm.height);
  html_band(out, a, VNET_RXQ, teach_queue_size(s, VNET_RXQ), gm.top, gm.band_rx, "rx");
  html_band(out, a, VNET_TXQ, teach_queue_size(s, VNET_TXQ), gm.y_tx, gm.band_tx, "tx");
  html_marks(out, a, r, TEACH_MARK_KICK, gm.top - 20, 7, "#1f5fbf", "kicks");
  html_marks(out, a, r, TEACH_MARK_IRQ, gm.y_tx - 30, 7, "#e67e22", "interrupts");
  html_drops(out, a, r, gm.top - 1);
  size_t gap_lines = html_gap_lines(out, a, &gm);
  html_axis_labels(out, a, &gm);
  fprintf(out,
          "<line id=\"cursor\" x1=\"0\" x2=\"0\" y1=\"%.0f\" y2=\"%.0f\" stroke=\"#c00\" "
          "stroke-width=\"2\"/>\n</svg>\n",
          gm.top - 20, gm.y_tx + gm.band_tx);
  return gap_lines;
}

/* The drop reasons, coloured as their triangles. */
static void html_drop_legend(FILE *out, const scn *s) {
  fputs("<p class=\"legend\">drops:", out);
  int any_drop = 0;
  for (int i = EMU_FATE_PENDING + 1; i < EMU_FATE_COUNT; i++) {
    if (emu_fate_is_success((emu_fate)i) || !s->fates.counts[i]) continue;
    fprintf(out,
            " <span><i class=\"sw\" style=\"background:hsl(%u,70%%,45%%)\"></i>%s %" PRIu64
            "</span>",
            html_drop_hue((unsigned)i), emu_fate_name((emu_fate)i), s->fates.counts[i]);
    any_drop = 1;
  }
  fputs(any_drop ? "</p>\n" : " none</p>\n", out);
}

/* How the timeline was compressed and sampled. */
static void html_timeline_note(FILE *out, const teach_rec *r, const html_axis *a, size_t pstride,
                               size_t gap_lines) {
  size_t nkick, nirq;
  uint64_t tkick, tirq, longest;
  teach_rec_marks(r, TEACH_MARK_KICK, &nkick, &tkick);
  teach_rec_marks(r, TEACH_MARK_IRQ, &nirq, &tirq);
  uint64_t gaps = teach_rec_idle_gaps(r, &longest);
  char tbuf[32];
  html_time(tbuf, sizeof tbuf, longest);
  /* counted over every event of the run, not between the points kept */
  fprintf(out,
          "<p class=\"note\" id=\"timeline-note\">x: virtual time. The run had %" PRIu64
          " idle gap%s of 1 ms or more without any event (the longest time between two events: "
          "%s)%s%s. The occupancy shows %zu of %zu recorded points (every %zu%s); marks: %zu of "
          "%" PRIu64 " kicks, %zu of %" PRIu64
          " interrupts. Click the timeline, or move along the step axis, to see the rings at "
          "that moment.</p>\n",
          gaps, gaps == 1 ? "" : "s", tbuf, a->gaps ? ", drawn 1 ms wide" : "",
          gap_lines ? " (dashed lines)" : "", a->n, (size_t)teach_rec_total_steps(r), pstride,
          pstride == 1 ? "" : ", downsampled", nkick, tkick, nirq, tirq);
}

/* How to read a step's tables. */
static const char html_step_legend[] =
    "<p class=\"note legend\" id=\"legend\">How to read a step: <b>owner</b> is who holds "
    "each descriptor: <span class=\"o0\">free</span> (the driver's free list), "
    "<span class=\"o5\">posted</span> (in the available ring, avail.idx not stored over it "
    "yet: still the driver's), <span class=\"o1\">avail</span> (offered to the device), "
    "<span class=\"o2\">device</span> (taken: in flight), <span class=\"o6\">pushed</span> "
    "(used element written, used.idx not stored over it yet: still the device's), "
    "<span class=\"o3\">used</span> (returned to the driver), <span class=\"o4\">lost</span> "
    "(passed over: no one gives it back). Ownership moves only when an index is stored "
    "(virtio 1.2 &sect;2.7.13.3, &sect;2.7.8.2). <span class=\"ch\">Highlighted</span>: ring "
    "memory the step wrote (for the queue shown, also since it was last shown; even with the "
    "value it already held), or an owner or cursor that changed. &larr;drv and &larr;dev: where "
    "the driver's and the device's private cursors "
    "point. <span class=\"stale\">Grey</span>: an old entry the reader has passed; -: never "
    "written. Under a step: the virtio_net_hdr at the start of the RX buffer it is about, as "
    "the device wrote it or the driver read it (&sect;5.1.6), and the indirect table a TX "
    "head points at (&sect;2.7.5.3).</p>\n";

/* How to read a packed ring's step. */
static const char html_step_legend_packed[] =
    "<p class=\"note legend\" id=\"legend\">How to read a step: a packed ring (virtio 1.2 "
    "&sect;2.8) is one descriptor ring both sides write, by position. Each side keeps a "
    "cursor and a wrap counter that starts at 1 and flips each time the cursor passes the end "
    "of the ring (&sect;2.8.1). The driver makes a descriptor available by storing its flags "
    "with <b>A</b> (AVAIL) equal to its wrap counter and <b>U</b> (USED) the inverse; the "
    "device marks one used by storing both equal to its own. So a descriptor is available "
    "when A equals the reader's wrap counter and U differs, and used when both equal it: the "
    "two <i>next for</i> lines apply that test, with live values. <b>owner</b> is who holds "
    "each position: <span class=\"o0\">free</span> (the driver's), <span "
    "class=\"o1\">avail</span> (made available, not yet taken), <span "
    "class=\"o2\">device</span> (taken: in flight), <span class=\"o3\">used</span> (marked "
    "used, waiting for the driver), <span class=\"o4\">lost</span> (the driver counts it as "
    "made available, but its flags do not say so to the device). The event suppression "
    "structures (&sect;2.8.10, &sect;2.8.14) ask the other side for notifications: ENABLE, "
    "DISABLE, or DESC (only for the descriptor at off and wrap). <span "
    "class=\"ch\">Highlighted</span>: ring memory the step wrote (for the queue shown, also "
    "since it was last shown; even with the value it already held), or an owner or cursor "
    "that changed. &larr;avail:drv and &larr;avail:dev: where the driver makes the next "
    "descriptor available and where the device looks for it; &larr;used:dev and "
    "&larr;used:drv: where the device marks the next one used and where the driver looks for "
    "it. Under a step: the virtio_net_hdr at the start of the RX buffer it is about, as the "
    "device wrote it or the driver read it (&sect;5.1.6).</p>\n";

/* The recorder's limit on ring snapshots, and what striding the steps
 * means for the highlights. */
static void html_step_limits(FILE *out, const scn *s, const teach_rec *r) {
  if (teach_rec_rings_capped(r))
    fprintf(out,
            "<p class=\"wrong\" id=\"rings-capped\">The ring tables are not drawn: this run's "
            "queues have %u entries, more than a page can draw at a usable speed. The steps, "
            "the occupancy timeline and the counters are all here; replay with a smaller "
            "--qsize to step through the rings.</p>\n",
            teach_queue_size(s, VNET_RXQ));
  if (teach_rec_step_stride(r) > 1)
    fputs(
        "<p class=\"note\" id=\"stride-note\">Only some steps are kept, so the highlights "
        "show what each kept step itself wrote; owner and cursor changes made by the steps "
        "in between are not highlighted.</p>\n",
        out);
}

static void html_step_controls(FILE *out, const scn *s, const teach_rec *r, size_t nsteps) {
  fputs(teach_run_packed(s) ? html_step_legend_packed : html_step_legend, out);
  html_step_limits(out, s, r);
  fprintf(out,
          "<div id=\"step\"><p>Ring states need JavaScript to step through; the data is in the "
          "page.</p></div>\n<p><button id=\"prev\">&larr; previous</button><button "
          "id=\"next\">next &rarr;</button> <label>step axis <input id=\"stepaxis\" "
          "type=\"range\" min=\"1\" max=\"%zu\" value=\"1\" style=\"width:50%%\"></label> "
          "<span id=\"stepno\"></span> <span class=\"note\">%zu of %zu steps kept%s</span>"
          "</p>\n",
          nsteps ? nsteps : 1, nsteps, teach_rec_total_steps(r),
          teach_rec_step_stride(r) > 1 ? " (every one in a stride, to keep the page small)" : "");
}

/* What a step is about, for its label: a queue, the device status, or
 * both queues (a fast-forward). */
static const char *html_step_on(const teach_step *st) {
  if (st->queue >= 0) return vnet_queue_name((uint16_t)st->queue);
  return st->kind == TEACH_K_FAST ? "both" : "status";
}

/* The kept steps, each ring as the changes from the last one drawn. */
/* Under a memory model: the step's two store buffers, one line each. */
static void html_buffers_json(FILE *out, const scn *s, const teach_step *st) {
  if (!teach_memory_name(s)) return;
  char line[1024];
  fputs(",\"sb\":[", out);
  html_json_str(out, teach_buffer_line(&st->buffers[0], line, sizeof line));
  fputc(',', out);
  html_json_str(out, teach_buffer_line(&st->buffers[1], line, sizeof line));
  fputc(']', out);
}

/* With mergeable RX buffers: the virtio_net_hdr the step is about, its
 * seven fields, then who wrote or read it, the head or id, the address. */
static void html_hdr_json(FILE *out, const scn *s, const teach_step *st) {
  if (!st->hdr_shown) return;
  const teach_net_hdr *h = &st->hdr;
  fprintf(out, ",\"hdr\":[%u,%u,%u,%u,%u,%u,%u,\"%s\",\"%s %" PRId64 "\",\"0x%08" PRIx64 "\"]",
          h->flags, h->gso_type, h->hdr_len, h->gso_size, h->csum_start, h->csum_offset,
          h->num_buffers, st->hdr_shown == TEACH_HDR_WRITTEN ? "device wrote it" : "driver read it",
          teach_run_packed(s) ? "buffer id" : "head", st->hdr_head, st->hdr_addr);
}

/* A TX step's indirect table: its address, head, entry count, then each
 * entry drawn as [addr, len, flags, next]. */
static void html_ind_json(FILE *out, const teach_step *st) {
  if (!st->nind) return;
  fprintf(out, ",\"ind\":{\"at\":\"0x%08" PRIx64 "\",\"head\":%" PRId64 ",\"n\":%u,\"d\":[",
          st->ind_addr, st->ind_head, st->ind_total);
  for (uint16_t i = 0; i < st->nind; i++)
    fprintf(out, "%s[%" PRIu64 ",%u,%u,%u]", i ? "," : "", st->ind[i].addr, st->ind[i].len,
            st->ind[i].flags, st->ind[i].next);
  fputs("]}", out);
}

static void html_steps_json(FILE *out, const scn *s, const teach_rec *r, const html_axis *a) {
  size_t nsteps;
  const teach_step *steps = teach_rec_steps(r, &nsteps);
  const teach_ring *prev[2] = {NULL, NULL};
  fputs(",\"steps\":[", out);
  for (size_t i = 0; i < nsteps; i++) {
    const teach_step *st = &steps[i];
    fprintf(out,
            "%s{\"i\":%u,\"t\":%" PRIu64
            ",\"x\":%.1f,\"q\":\"%s\",\"k\":\"%s\",\"wrong\":%d,\"on\":\"%s\","
            "\"title\":",
            i ? ",\n" : "", st->index, st->t_ns, html_x(a, st->t_ns),
            vnet_queue_name((uint16_t)teach_step_queue(st)), html_kind_names[st->kind], st->wrong,
            html_step_on(st));
    html_json_str(out, st->title);
    fputs(",\"text\":", out);
    html_json_str(out, st->text);
    html_buffers_json(out, s, st);
    html_hdr_json(out, s, st);
    html_ind_json(out, st);
    fputs(",\"rings\":{", out);
    const char *sep = "";
    for (int q = 0; q < 2; q++) {
      if (!st->ring[q].size) continue;
      fprintf(out, "%s\"%s\":", sep, vnet_queue_name((uint16_t)q));
      html_ring_json(out, &st->ring[q], prev[q]);
      prev[q] = &st->ring[q];
      sep = ",";
    }
    fputs("}}", out);
  }
  fputs("]", out);
}

/* The run's data for the script, in a JSON block. */
static void html_data(FILE *out, const scn *s, const teach_rec *r, const html_axis *a,
                      const char *title, const char *source, const char *bugs, size_t pstride) {
  size_t nsteps;
  uint64_t tkick, tirq;
  size_t nkick, nirq;
  teach_rec_steps(r, &nsteps);
  teach_rec_marks(r, TEACH_MARK_KICK, &nkick, &tkick);
  teach_rec_marks(r, TEACH_MARK_IRQ, &nirq, &tirq);
  fprintf(out,
          "<script type=\"application/json\" id=\"vnetsim-data\">{\"format\":\"vnetsim-teach-1\","
          "\"source\":");
  html_json_str(out, source);
  fputs(",\"title\":", out);
  html_json_str(out, title);
  fprintf(out, ",\"seed\":%" PRIu64 ",\"queue_size\":%u,\"bugs\":", s->cfg.seed,
          teach_queue_size(s, VNET_RXQ));
  html_json_str(out, bugs);
  fputc(',', out);
  html_counters_json(out, s);
  fprintf(out,
          ",\"steps_total\":%zu,\"steps_stored\":%zu,\"step_stride\":%zu,\"points_stored\":%zu,"
          "\"point_stride\":%zu,\"marks_total\":{\"kick\":%" PRIu64 ",\"irq\":%" PRIu64 "}",
          teach_rec_total_steps(r), nsteps, teach_rec_step_stride(r), a->n, pstride, tkick, tirq);
  html_steps_json(out, s, r, a);
  fputs("}</script>\n", out);
}

int teach_write_html(FILE *out, const scn *s, const teach_rec *r, const char *title,
                     const char *source) {
  size_t npoints, pstride, nsteps;
  const teach_point *points = teach_rec_points(r, &npoints, &pstride);
  teach_rec_steps(r, &nsteps);
  html_axis a;
  if (html_axis_init(&a, points, npoints)) return EMU_ENOMEM;
  char bugs[256];
  vbug_names(s->drv.opts.bugs, s->dev.cfg.bugs, bugs, sizeof bugs);
  html_head(out, s, title, source, bugs, npoints ? points[npoints - 1].t_ns : 0);
  html_counters(out, s);
  html_owner_legend(out, teach_run_packed(s));
  size_t gap_lines = html_timeline(out, s, r, &a);
  html_drop_legend(out, s);
  html_timeline_note(out, r, &a, pstride, gap_lines);
  html_step_controls(out, s, r, nsteps);
  html_data(out, s, r, &a, title, source, bugs, pstride);
  fputs("<script>", out);
  fputs(html_script_head, out);
  fputs(teach_run_packed(s) ? html_script_packed : html_script_split, out);
  fputs(html_script_tail, out);
  fputs("</script>\n</body></html>\n", out);
  free(a.cx);
  return ferror(out) ? EMU_EIO : 0;
}

void teach_opts_for_replay(teach_opts *o) {
  *o = (teach_opts){
      .max_steps = 300, .max_points = 4000, .max_marks = 2000, .max_ring_size = HTML_MAX_RING};
}
