/* A minimal CLAP host for the tests: loads a .clap, sets parameters by name
 * through param-value events, processes raw float32 audio from a file and writes
 * raw float32 output; then prints every output (meter) parameter as "name=value".
 *
 *   clap_host PLUGIN.clap IN.f32 OUT.f32 SAMPLE_RATE [-c CHANNELS] [-b BLOCK] [-s STATE] [name=value ...]
 *
 * -s loads a state file through the state extension before activation (dspnewton.plugin_state(.., "clap")).
 *
 * Audio files are planar: all of channel 0, then channel 1 (a (C, T) float32 array).
 * Parameters are matched by their CLAP name or, as a fallback, by index ("#3=0.5").
 * Built with the CLAP headers that ship inside dpf-source (distrho/src/clap). */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entry.h"
#include "events.h"
#include "ext/params.h"
#include "ext/state.h"
#include "host.h"
#include "plugin-factory.h"
#include "plugin.h"
#include "process.h"

#define MAX_EVENTS 64
#define MAX_CHANNELS 2

typedef struct {
    clap_event_param_value_t ev[MAX_EVENTS];
    uint32_t n;
} event_list;

static uint32_t in_size(const clap_input_events_t *l) { return ((const event_list *)l->ctx)->n; }
static const clap_event_header_t *in_get(const clap_input_events_t *l, uint32_t i) {
    return &((const event_list *)l->ctx)->ev[i].header;
}
static bool out_push(const clap_output_events_t *l, const clap_event_header_t *e) {
    (void)l; (void)e;
    return true;
}
typedef struct {
    const char *data;
    int64_t size, at;
} byte_stream;
static int64_t stream_read(const clap_istream_t *s, void *buffer, uint64_t size) {
    byte_stream *b = (byte_stream *)s->ctx;
    int64_t n = b->size - b->at < (int64_t)size ? b->size - b->at : (int64_t)size;
    memcpy(buffer, b->data + b->at, (size_t)n);
    b->at += n;
    return n;
}

static const void *host_ext(const clap_host_t *h, const char *id) { (void)h; (void)id; return NULL; }
static void host_noop(const clap_host_t *h) { (void)h; }

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s PLUGIN.clap IN.f32 OUT.f32 SAMPLE_RATE [name=value ...]\n", argv[0]);
        return 2;
    }
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) { fprintf(stderr, "dlopen: %s\n", dlerror()); return 1; }
    const clap_plugin_entry_t *entry = (const clap_plugin_entry_t *)dlsym(lib, "clap_entry");
    if (!entry || !entry->init(argv[1])) { fprintf(stderr, "no usable clap_entry\n"); return 1; }
    const clap_plugin_factory_t *factory = (const clap_plugin_factory_t *)entry->get_factory(CLAP_PLUGIN_FACTORY_ID);
    if (!factory || factory->get_plugin_count(factory) < 1) { fprintf(stderr, "no plugins\n"); return 1; }
    const clap_plugin_descriptor_t *desc = factory->get_plugin_descriptor(factory, 0);
    clap_host_t host = {CLAP_VERSION, NULL, "dspnewton-test-host", "dspnewton", "", "0.1",
                        host_ext, host_noop, host_noop, host_noop};
    const clap_plugin_t *plugin = factory->create_plugin(factory, &host, desc->id);
    if (!plugin || !plugin->init(plugin)) { fprintf(stderr, "create/init failed\n"); return 1; }
    const double sr = atof(argv[4]);
    int channels = 1, block = 512, first_param = 5;
    const char *state_file = NULL;
    while (first_param + 1 < argc && argv[first_param][0] == '-') {
        if (strcmp(argv[first_param], "-c") == 0) channels = atoi(argv[first_param + 1]);
        else if (strcmp(argv[first_param], "-b") == 0) block = atoi(argv[first_param + 1]);
        else if (strcmp(argv[first_param], "-s") == 0) state_file = argv[first_param + 1];
        else { fprintf(stderr, "unknown option %s\n", argv[first_param]); return 2; }
        first_param += 2;
    }
    if (channels < 1 || channels > MAX_CHANNELS || block < 1) { fprintf(stderr, "bad -c/-b\n"); return 2; }
    if (state_file) {
        const clap_plugin_state_t *st = (const clap_plugin_state_t *)plugin->get_extension(plugin, CLAP_EXT_STATE);
        FILE *fs = fopen(state_file, "rb");
        if (!st || !fs) { fprintf(stderr, "no state extension or cannot open %s\n", state_file); return 1; }
        fseek(fs, 0, SEEK_END);
        byte_stream b = {NULL, ftell(fs), 0};
        fseek(fs, 0, SEEK_SET);
        char *data = malloc((size_t)b.size + 1);
        if (!data || fread(data, 1, (size_t)b.size, fs) != (size_t)b.size) { fprintf(stderr, "short state\n"); return 1; }
        fclose(fs);
        b.data = data;
        clap_istream_t in = {&b, stream_read};
        if (!st->load(plugin, &in)) { fprintf(stderr, "the plugin refused the state\n"); return 1; }
        free(data);
    }
    if (!plugin->activate(plugin, sr, 1, (uint32_t)block) || !plugin->start_processing(plugin)) {
        fprintf(stderr, "activate failed\n");
        return 1;
    }
    /* parameter events, matched by name through the params extension */
    event_list events = {.n = 0};
    const clap_plugin_params_t *params = (const clap_plugin_params_t *)plugin->get_extension(plugin, CLAP_EXT_PARAMS);
    for (int a = first_param; a < argc && events.n < MAX_EVENTS; ++a) {
        char *eq = strchr(argv[a], '=');
        if (!eq) { fprintf(stderr, "bad parameter '%s'\n", argv[a]); return 2; }
        *eq = '\0';
        long id = -1;
        if (argv[a][0] == '#') id = atol(argv[a] + 1);
        for (uint32_t i = 0; params && id < 0 && i < params->count(plugin); ++i) {
            clap_param_info_t info;
            if (params->get_info(plugin, i, &info) && strcmp(info.name, argv[a]) == 0) id = (long)info.id;
        }
        if (id < 0) { fprintf(stderr, "unknown parameter '%s'\n", argv[a]); return 2; }
        clap_event_param_value_t *ev = &events.ev[events.n++];
        memset(ev, 0, sizeof(*ev));
        ev->header.size = sizeof(*ev);
        ev->header.space_id = CLAP_CORE_EVENT_SPACE_ID;
        ev->header.type = CLAP_EVENT_PARAM_VALUE;
        ev->param_id = (clap_id)id;
        ev->note_id = -1; ev->port_index = -1; ev->channel = -1; ev->key = -1;
        ev->value = atof(eq + 1);
    }
    FILE *fi = fopen(argv[2], "rb"), *fo = fopen(argv[3], "wb");
    if (!fi || !fo) { fprintf(stderr, "cannot open files\n"); return 1; }
    fseek(fi, 0, SEEK_END);
    const long total = ftell(fi) / (long)sizeof(float) / channels;
    fseek(fi, 0, SEEK_SET);
    float *audio = malloc(sizeof(float) * (size_t)(total * channels + 1));
    float *result = malloc(sizeof(float) * (size_t)(total * channels + 1));
    if (!audio || !result || fread(audio, sizeof(float), (size_t)(total * channels), fi) != (size_t)(total * channels)) {
        fprintf(stderr, "cannot read input\n");
        return 1;
    }
    float *inp[MAX_CHANNELS], *outp[MAX_CHANNELS];
    clap_audio_buffer_t ain = {inp, NULL, (uint32_t)channels, 0, 0}, aout = {outp, NULL, (uint32_t)channels, 0, 0};
    clap_input_events_t in_ev = {&events, in_size, in_get};
    event_list none = {.n = 0};
    clap_input_events_t no_ev = {&none, in_size, in_get};
    clap_output_events_t out_ev = {NULL, out_push};
    for (int64_t t = 0; t < total; t += block) {
        const uint32_t n = (uint32_t)(total - t < block ? total - t : block);
        for (int c = 0; c < channels; ++c) {
            inp[c] = audio + c * total + t;
            outp[c] = result + c * total + t;
        }
        clap_process_t proc = {t, n, NULL, &ain, &aout, 1, 1, t == 0 ? &in_ev : &no_ev, &out_ev};
        if (plugin->process(plugin, &proc) == CLAP_PROCESS_ERROR) { fprintf(stderr, "process error\n"); return 1; }
    }
    fwrite(result, sizeof(float), (size_t)(total * channels), fo);
    fclose(fi);
    fclose(fo);
    for (uint32_t i = 0; params && i < params->count(plugin); ++i) {  /* the meters */
        clap_param_info_t info;
        double value;
        if (params->get_info(plugin, i, &info) && (info.flags & CLAP_PARAM_IS_READONLY) &&
            params->get_value(plugin, info.id, &value))
            printf("%s=%.9g\n", info.name, value);
    }
    free(audio);
    free(result);
    plugin->stop_processing(plugin);
    plugin->deactivate(plugin);
    plugin->destroy(plugin);
    entry->deinit();
    return 0;
}
