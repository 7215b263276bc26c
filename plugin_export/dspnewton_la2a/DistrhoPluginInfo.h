// dspnewton LA-2A: plugin metadata for the DISTRHO Plugin Framework (DPF).
// Two variants from one source (DPF fixes the channel count at build time):
// mono (default) and stereo (built with -DDSPNEWTON_STEREO=1; one linked detector or dual mono).
#pragma once

#define DISTRHO_PLUGIN_BRAND "dspnewton"
#if DSPNEWTON_STEREO
#define DISTRHO_PLUGIN_NAME "dspnewton LA-2A Stereo"
#define DISTRHO_PLUGIN_URI "urn:dspnewton:la2a_stereo"  // dspnewton.export.plugin_uri derives it from the name
#define DISTRHO_PLUGIN_CLAP_ID "org.dspnewton.la2a_stereo"
#define DISTRHO_PLUGIN_NUM_INPUTS 2
#define DISTRHO_PLUGIN_NUM_OUTPUTS 2
#define DISTRHO_PLUGIN_VST3_CATEGORIES "Fx|Dynamics|Stereo"
#define DISTRHO_PLUGIN_CLAP_FEATURES "audio-effect", "compressor", "stereo"
#else
#define DISTRHO_PLUGIN_NAME "dspnewton LA-2A"
#define DISTRHO_PLUGIN_URI "urn:dspnewton:la2a"
#define DISTRHO_PLUGIN_CLAP_ID "org.dspnewton.la2a"
#define DISTRHO_PLUGIN_NUM_INPUTS 1
#define DISTRHO_PLUGIN_NUM_OUTPUTS 1
#define DISTRHO_PLUGIN_VST3_CATEGORIES "Fx|Dynamics|Mono"
#define DISTRHO_PLUGIN_CLAP_FEATURES "audio-effect", "compressor", "mono"
#endif

#define DISTRHO_PLUGIN_HAS_UI 1          // the face: UIDSPNewton.cpp (NanoVG)
#define DISTRHO_UI_USE_NANOVG 1
#define DISTRHO_UI_USER_RESIZABLE 1
#define DISTRHO_UI_FILE_BROWSER 1
#define DISTRHO_PLUGIN_IS_RT_SAFE 1
#define DISTRHO_PLUGIN_WANT_PROGRAMS 0  // the table is loaded at run time: presets carry their bundle instead
#define DISTRHO_PLUGIN_WANT_STATE 1     // the bundle itself ("bundle") and where it came from ("bundle_path")
#define DISTRHO_PLUGIN_WANT_FULL_STATE 1
// LV2 hosts size the DSP -> face message buffer by this (DPF's default, 2 kB, cannot carry a bundle's text)
#define DISTRHO_PLUGIN_MINIMUM_BUFFER_SIZE 131072

#define DISTRHO_PLUGIN_LV2_CATEGORY "lv2:CompressorPlugin"
