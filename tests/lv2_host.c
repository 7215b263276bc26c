/* A small LV2 host for the tests (lilv), with what real hosts give a DPF plugin with state:
 * urid:map/unmap, options (sample rate, block lengths), a worker (run synchronously) and the
 * state interface (restore from a preset or a saved state file, save at the end). lv2file
 * gives no worker, so DPF plugins with state do not instantiate in it.
 *
 *   lv2_host URI IN.f32 OUT.f32 SAMPLE_RATE [-c CHANNELS] [-b BLOCK] [-P PRESET_URI]
 *            [-l STATE.ttl] [-S SAVE_DIR] [symbol=value ...]
 *
 * Audio files are planar float32 (all of channel 0, then channel 1). -P applies a preset found
 * on LV2_PATH, -l a state file (both before the symbol=value controls), -S saves the state after
 * processing into SAVE_DIR/state.ttl. Prints every output control port as "symbol=value". */
#include <lilv/lilv.h>
#include <lv2/atom/atom.h>
#include <lv2/buf-size/buf-size.h>
#include <lv2/options/options.h>
#include <lv2/parameters/parameters.h>
#include <lv2/state/state.h>
#include <lv2/urid/urid.h>
#include <lv2/worker/worker.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_URIDS 512
#define MAX_PORTS 64
#define ATOM_CAPACITY 65536

static char *uris[MAX_URIDS];
static uint32_t n_uris;

static LV2_URID map_uri(LV2_URID_Map_Handle h, const char *uri) {
    (void)h;
    for (uint32_t i = 0; i < n_uris; ++i)
        if (strcmp(uris[i], uri) == 0) return i + 1;
    if (n_uris == MAX_URIDS) return 0;
    uris[n_uris] = strdup(uri);
    return ++n_uris;
}
static const char *unmap_uri(LV2_URID_Unmap_Handle h, LV2_URID urid) {
    (void)h;
    return urid >= 1 && urid <= n_uris ? uris[urid - 1] : NULL;
}

typedef struct {
    const LilvPlugin *plugin;
    LilvInstance *instance;
    float control[MAX_PORTS];
    int is_control[MAX_PORTS];
} Host;

static LV2_Worker_Status respond(LV2_Worker_Respond_Handle h, uint32_t size, const void *data) {
    Host *host = (Host *)h;
    const LV2_Worker_Interface *w =
        (const LV2_Worker_Interface *)lilv_instance_get_extension_data(host->instance, LV2_WORKER__interface);
    return w && w->work_response ? w->work_response(lilv_instance_get_handle(host->instance), size, data)
                                 : LV2_WORKER_SUCCESS;
}
static Host *g_host;
static LV2_Worker_Status schedule(LV2_Worker_Schedule_Handle h, uint32_t size, const void *data) {
    (void)h;
    const LV2_Worker_Interface *w =
        (const LV2_Worker_Interface *)lilv_instance_get_extension_data(g_host->instance, LV2_WORKER__interface);
    return w ? w->work(lilv_instance_get_handle(g_host->instance), respond, g_host, size, data) : LV2_WORKER_ERR_UNKNOWN;
}

static int port_by_symbol(Host *h, LilvWorld *world, const char *sym) {
    LilvNode *s = lilv_new_string(world, sym);
    const LilvPort *p = lilv_plugin_get_port_by_symbol(h->plugin, s);
    lilv_node_free(s);
    return p ? (int)lilv_port_get_index(h->plugin, p) : -1;
}
static LilvWorld *g_world;
static void set_value(const char *sym, void *user, const void *value, uint32_t size, uint32_t type) {
    Host *h = (Host *)user;
    int i = port_by_symbol(h, g_world, sym);
    (void)size;
    if (i >= 0 && i < MAX_PORTS && h->is_control[i] && type == map_uri(NULL, LV2_ATOM__Float))
        h->control[i] = *(const float *)value;
}
static const void *get_value(const char *sym, void *user, uint32_t *size, uint32_t *type) {
    Host *h = (Host *)user;
    int i = port_by_symbol(h, g_world, sym);
    if (i < 0 || i >= MAX_PORTS || !h->is_control[i]) return NULL;
    *size = sizeof(float);
    *type = map_uri(NULL, LV2_ATOM__Float);
    return &h->control[i];
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s URI IN.f32 OUT.f32 SAMPLE_RATE [-c N] [-b N] [-P URI] [-l F] [-S DIR] [sym=v ...]\n",
                argv[0]);
        return 2;
    }
    const char *preset = NULL, *state_file = NULL, *save_dir = NULL;
    int channels = 1, block = 512, first = 5;
    double sr = atof(argv[4]);
    while (first + 1 < argc && argv[first][0] == '-') {
        const char *o = argv[first], *v = argv[first + 1];
        if (!strcmp(o, "-c")) channels = atoi(v);
        else if (!strcmp(o, "-b")) block = atoi(v);
        else if (!strcmp(o, "-P")) preset = v;
        else if (!strcmp(o, "-l")) state_file = v;
        else if (!strcmp(o, "-S")) save_dir = v;
        else { fprintf(stderr, "unknown option %s\n", o); return 2; }
        first += 2;
    }
    LilvWorld *world = lilv_world_new();
    g_world = world;
    lilv_world_load_all(world);
    LilvNode *uri = lilv_new_uri(world, argv[1]);
    const LilvPlugin *plugin = lilv_plugins_get_by_uri(lilv_world_get_all_plugins(world), uri);
    if (!plugin) { fprintf(stderr, "no plugin %s on LV2_PATH\n", argv[1]); return 1; }

    LV2_URID_Map map = {NULL, map_uri};
    LV2_URID_Unmap unmap = {NULL, unmap_uri};
    LV2_Worker_Schedule sched = {NULL, schedule};
    const int32_t blen = block;
    const float srf = (float)sr;
    LV2_Options_Option opts[] = {
        {LV2_OPTIONS_INSTANCE, 0, map_uri(NULL, LV2_PARAMETERS__sampleRate), sizeof(float),
         map_uri(NULL, LV2_ATOM__Float), &srf},
        {LV2_OPTIONS_INSTANCE, 0, map_uri(NULL, LV2_BUF_SIZE__nominalBlockLength), sizeof(int32_t),
         map_uri(NULL, LV2_ATOM__Int), &blen},
        {LV2_OPTIONS_INSTANCE, 0, map_uri(NULL, LV2_BUF_SIZE__maxBlockLength), sizeof(int32_t),
         map_uri(NULL, LV2_ATOM__Int), &blen},
        {LV2_OPTIONS_INSTANCE, 0, 0, 0, 0, NULL}};
    LV2_Feature f_map = {LV2_URID__map, &map}, f_unmap = {LV2_URID__unmap, &unmap},
                f_sched = {LV2_WORKER__schedule, &sched}, f_opts = {LV2_OPTIONS__options, opts};
    const LV2_Feature *features[] = {&f_map, &f_unmap, &f_sched, &f_opts, NULL};

    Host host;
    memset(&host, 0, sizeof(host));
    g_host = &host;
    host.plugin = plugin;
    host.instance = lilv_plugin_instantiate(plugin, sr, features);
    if (!host.instance) { fprintf(stderr, "instantiate failed\n"); return 1; }

    const uint32_t n_ports = lilv_plugin_get_num_ports(plugin);
    if (n_ports > MAX_PORTS) { fprintf(stderr, "too many ports\n"); return 1; }
    float mins[MAX_PORTS], maxs[MAX_PORTS], defs[MAX_PORTS];
    lilv_plugin_get_port_ranges_float(plugin, mins, maxs, defs);
    LilvNode *audio = lilv_new_uri(world, LV2_CORE__AudioPort), *ctrl = lilv_new_uri(world, LV2_CORE__ControlPort),
             *atom = lilv_new_uri(world, LV2_ATOM__AtomPort), *in_cls = lilv_new_uri(world, LV2_CORE__InputPort);
    int audio_in[8], audio_out[8], n_in = 0, n_out = 0;
    static uint64_t atom_in[ATOM_CAPACITY / 8], atom_out[ATOM_CAPACITY / 8];
    int atom_out_port = -1;
    for (uint32_t i = 0; i < n_ports; ++i) {
        const LilvPort *p = lilv_plugin_get_port_by_index(plugin, i);
        const int is_in = lilv_port_is_a(plugin, p, in_cls);
        if (lilv_port_is_a(plugin, p, audio)) {
            if (is_in) audio_in[n_in++] = (int)i;
            else audio_out[n_out++] = (int)i;
        } else if (lilv_port_is_a(plugin, p, ctrl)) {
            host.is_control[i] = 1;
            host.control[i] = isnan(defs[i]) ? 0.0f : defs[i];
            lilv_instance_connect_port(host.instance, i, &host.control[i]);
        } else if (lilv_port_is_a(plugin, p, atom)) {
            if (is_in) {
                LV2_Atom_Sequence *s = (LV2_Atom_Sequence *)atom_in;
                s->atom.size = sizeof(LV2_Atom_Sequence_Body);
                s->atom.type = map_uri(NULL, LV2_ATOM__Sequence);
                lilv_instance_connect_port(host.instance, i, atom_in);
            } else {
                atom_out_port = (int)i;
                lilv_instance_connect_port(host.instance, i, atom_out);
            }
        } else {
            lilv_instance_connect_port(host.instance, i, NULL);
        }
    }
    if (n_in != channels || n_out != channels) { fprintf(stderr, "plugin has %d/%d audio ports\n", n_in, n_out); return 1; }
    (void)atom_out_port;

    LilvState *state = NULL;
    if (preset) {
        LilvNode *pu = lilv_new_uri(world, preset);
        lilv_world_load_resource(world, pu);
        state = lilv_state_new_from_world(world, &map, pu);
        lilv_node_free(pu);
        if (!state) { fprintf(stderr, "no preset %s\n", preset); return 1; }
    } else if (state_file) {
        state = lilv_state_new_from_file(world, &map, NULL, state_file);
        if (!state) { fprintf(stderr, "cannot read state %s\n", state_file); return 1; }
    }
    if (state) {
        lilv_state_restore(state, host.instance, set_value, &host, 0, features);
        lilv_state_free(state);
    }
    for (int a = first; a < argc; ++a) {
        char sym[128];
        const char *eq = strchr(argv[a], '=');
        if (!eq || (size_t)(eq - argv[a]) >= sizeof(sym)) { fprintf(stderr, "bad control %s\n", argv[a]); return 2; }
        memcpy(sym, argv[a], (size_t)(eq - argv[a]));
        sym[eq - argv[a]] = 0;
        int i = port_by_symbol(&host, world, sym);
        if (i < 0 || !host.is_control[i]) { fprintf(stderr, "no control port %s\n", sym); return 2; }
        host.control[i] = (float)atof(eq + 1);
    }

    FILE *fi = fopen(argv[2], "rb");
    if (!fi) { fprintf(stderr, "cannot open %s\n", argv[2]); return 1; }
    fseek(fi, 0, SEEK_END);
    const long bytes = ftell(fi);
    fseek(fi, 0, SEEK_SET);
    const long frames = bytes / (long)sizeof(float) / channels;
    float *x = malloc((size_t)bytes + 4), *y = malloc((size_t)bytes + 4);
    if (fread(x, 1, (size_t)bytes, fi) != (size_t)bytes) { fprintf(stderr, "short read\n"); return 1; }
    fclose(fi);

    lilv_instance_activate(host.instance);
    for (long at = 0; at < frames; at += block) {
        const uint32_t n = (uint32_t)(frames - at < block ? frames - at : block);
        for (int c = 0; c < channels; ++c) {
            lilv_instance_connect_port(host.instance, (uint32_t)audio_in[c], x + (long)c * frames + at);
            lilv_instance_connect_port(host.instance, (uint32_t)audio_out[c], y + (long)c * frames + at);
        }
        LV2_Atom_Sequence *out = (LV2_Atom_Sequence *)atom_out;
        out->atom.size = ATOM_CAPACITY - sizeof(LV2_Atom);
        out->atom.type = map_uri(NULL, LV2_ATOM__Chunk);
        lilv_instance_run(host.instance, n);
    }
    if (save_dir) {
        LilvState *s = lilv_state_new_from_instance(plugin, host.instance, &map, NULL, NULL, NULL, save_dir, get_value,
                                                    &host, LV2_STATE_IS_POD | LV2_STATE_IS_PORTABLE, features);
        if (!s || lilv_state_save(world, &map, &unmap, s, NULL, save_dir, "state.ttl")) {
            fprintf(stderr, "saving the state failed\n");
            return 1;
        }
        lilv_state_free(s);
    }
    lilv_instance_deactivate(host.instance);

    FILE *fo = fopen(argv[3], "wb");
    if (!fo || fwrite(y, 1, (size_t)bytes, fo) != (size_t)bytes) { fprintf(stderr, "cannot write %s\n", argv[3]); return 1; }
    fclose(fo);
    LilvNode *out_cls = lilv_new_uri(world, LV2_CORE__OutputPort);
    for (uint32_t i = 0; i < n_ports; ++i) {
        const LilvPort *p = lilv_plugin_get_port_by_index(plugin, i);
        if (host.is_control[i] && lilv_port_is_a(plugin, p, out_cls))
            printf("%s=%.9g\n", lilv_node_as_string(lilv_port_get_symbol(plugin, p)), host.control[i]);
    }
    lilv_instance_free(host.instance);
    lilv_world_free(world);
    return 0;
}
