// dspnewton LA-2A: the plugin's face (DPF's DGL with NanoVG).
//
// The hardware's front panel: a VU meter with the LA-2A's three readings (gain reduction,
// output +4, output +10; the needle follows the DSP's VU-ballistic meter outputs), the Gain
// and Peak Reduction knobs, the Compress/Limit switch; then Mix, Input trim and Emphasis
// knobs, Bypass and (stereo) Link switches; a top bar with the loaded bundle's name, model
// and validation ESR at the current setting, and Load / previous / next buttons that browse
// the bundles beside the loaded one (what it shows: face_model.hpp). Knobs: drag vertically
// (or the wheel); switches: click. Host automation moves the face (parameterChanged) and the
// face automates the host (setParameterValue between editParameter begin/end). Drawn at
// 780 x 380 and scaled (resizable, aspect kept, the desktop's scale factor followed). A bundle
// picked here is read and verified first; a refused one is named in the status line and never
// sent to the DSP, which keeps its table.
#include "DistrhoUI.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "face_model.hpp"
#include "params.h"  // the compiled-in table's model, named while no bundle is loaded
#include "plugin_params.hpp"

START_NAMESPACE_DISTRHO

using namespace dspnewton_plugin;
using namespace dspnewton_face;
constexpr uint kWidth = 780, kHeight = 380;

class DSPNewtonUI : public UI {
public:
    DSPNewtonUI() : UI(kWidth, kHeight, true) {
        loadSharedResources();
        for (uint32_t i = 0; i < kParamCount; ++i) fValues[i] = defaultValue(i);
        fInfo = describe("", "", builtin_model());
    }

protected:
    // ---- from the host / DSP

    void parameterChanged(uint32_t index, float value) override {
        if (index >= kParamCount) return;
        fValues[index] = value;
        repaint();
    }

    void stateChanged(const char* key, const char* value) override {
        if (std::strcmp(key, kStateKeyBundlePath) == 0) fPath = value;
        if (std::strcmp(key, kStateKeyBundle) == 0) fText = value;
        fInfo = describe(fText, fPath, builtin_model());
        fStatus = fInfo.ok ? std::string() : "the session's bundle was refused (" + fInfo.error +
                                                 "); the plugin keeps its table";
        repaint();
    }

    void uiFileBrowserSelected(const char* filename) override {
        if (filename != nullptr) load(bundle_json_of(filename));
    }

    // ---- drawing

    void onNanoDisplay() override {
        const float s = static_cast<float>(getWidth()) / kWidth;
        scale(s, s);
        fontFace(NANOVG_DEJAVU_SANS_TTF);
        // body
        beginPath();
        rect(0, 0, kWidth, kHeight);
        fillPaint(linearGradient(0, 0, 0, kHeight, Color(62, 64, 68), Color(38, 39, 42)));
        fill();
        drawTopBar();
        drawMeter(30, 70, 300, 220);
        drawKnob(kGain, 440, 175, 58, "GAIN");
        drawKnob(kPeak, 640, 175, 58, "PEAK REDUCTION");
        drawSwitch(kMode, 350, 292, "COMPRESS", "LIMIT");
        drawKnob(kMix, 500, 318, 26, "MIX");
        drawKnob(kTrim, 578, 318, 26, "TRIM");
        drawKnob(kEmphasis, 656, 318, 26, fInfo.table.model.sc ? "EMPHASIS" : "EMPH. (n/a)");
        drawToggle(kBypass, 712, 292, "BYPASS");
#if DSPNEWTON_STEREO
        drawToggle(kLink, 712, 330, "LINK");
#endif
        drawMeterSelector(60, 302);
        drawStatus();
    }

    // ---- interaction

    bool onMouse(const MouseEvent& ev) override {
        const float s = static_cast<float>(getWidth()) / kWidth;
        const float x = static_cast<float>(ev.pos.getX()) / s, y = static_cast<float>(ev.pos.getY()) / s;
        if (ev.button != 1) return false;
        if (!ev.press) {
            if (fDrag >= 0) editParameter(static_cast<uint32_t>(fDrag), false);
            fDrag = -1;
            return true;
        }
        for (const Hit& h : fHits) {
            if (x < h.x0 || x > h.x1 || y < h.y0 || y > h.y1) continue;
            switch (h.kind) {
                case Hit::Knob:
                    fDrag = static_cast<int>(h.index);
                    fDragY = y;
                    fDragStart = fValues[h.index];
                    editParameter(h.index, true);
                    return true;
                case Hit::Toggle: set(h.index, fValues[h.index] > 0.5f ? 0.0f : 1.0f); return true;
                case Hit::Choice: set(h.index, h.value); return true;
                case Hit::Load: browse(); return true;
                case Hit::Prev: step(-1); return true;
                case Hit::Next: step(+1); return true;
            }
        }
        return false;
    }

    bool onMotion(const MotionEvent& ev) override {
        if (fDrag < 0) return false;
        const float s = static_cast<float>(getWidth()) / kWidth;
        const ControlSpec& c = control_spec(static_cast<uint32_t>(fDrag));
        const float dy = fDragY - static_cast<float>(ev.pos.getY()) / s;  // up: more
        const float v = std::min(c.hi, std::max(c.lo, fDragStart + dy / 200.0f * (c.hi - c.lo)));
        fValues[fDrag] = v;
        setParameterValue(static_cast<uint32_t>(fDrag), v);
        repaint();
        return true;
    }

    bool onScroll(const ScrollEvent& ev) override {
        const float s = static_cast<float>(getWidth()) / kWidth;
        const float x = static_cast<float>(ev.pos.getX()) / s, y = static_cast<float>(ev.pos.getY()) / s;
        for (const Hit& h : fHits)
            if (h.kind == Hit::Knob && x >= h.x0 && x <= h.x1 && y >= h.y0 && y <= h.y1) {
                const ControlSpec& c = control_spec(h.index);
                editParameter(h.index, true);
                set(h.index, std::min(c.hi, std::max(c.lo, fValues[h.index] + static_cast<float>(ev.delta.getY()) *
                                                                                    (c.hi - c.lo) / 50.0f)));
                editParameter(h.index, false);
                return true;
            }
        return false;
    }

private:
    struct Hit {
        enum Kind { Knob, Toggle, Choice, Load, Prev, Next } kind;
        uint32_t index;
        float value, x0, y0, x1, y1;
    };

    static float defaultValue(uint32_t index) { return control_spec(index).def; }
    static std::string builtin_model() {
        return std::string(dspnewton_table::kModel) + (dspnewton_table::kHasResidual ? "+gru" : "");
    }

    void set(uint32_t index, float value) {
        fValues[index] = value;
        setParameterValue(index, value);
        repaint();
    }

    void hit(Hit::Kind kind, uint32_t index, float value, float x, float y, float w, float h) {
        for (Hit& e : fHits)
            if (e.kind == kind && e.index == index && e.value == value) {
                e = Hit{kind, index, value, x, y, x + w, y + h};
                return;
            }
        fHits.push_back(Hit{kind, index, value, x, y, x + w, y + h});
    }

    // ---- bundles

    void browse() {
        FileBrowserOptions opts;
        opts.title = "Load a dspnewton bundle (bundle.json)";
        const std::string dir = fPath.empty() ? std::string() : fs::path(fPath).parent_path().parent_path().string();
        opts.startDir = dir.empty() ? nullptr : dir.c_str();
        if (!openFileBrowser(opts)) fStatus = "no file browser here: load bundles through the host's state";
        repaint();
    }

    void step(int direction) {
        if (fPath.empty()) {
            fStatus = "load a bundle first; previous/next browse the bundles beside it";
            return repaint();
        }
        const fs::path next = neighbour_bundle(fPath, direction);
        if (next.empty()) {
            fStatus = "no bundles beside " + fPath;
            return repaint();
        }
        load(next);
    }

    /// Read and verify a bundle here; only a valid one goes to the DSP (state), a refused one is named.
    void load(const fs::path& file) {
        std::string error;
        const std::string text = read_text(file, error);
        BundleInfo info = error.empty() ? describe(text, file.string()) : BundleInfo{};
        if (!error.empty() || !info.ok) {
            fStatus = "not loaded: '" + file.string() + "': " + (error.empty() ? info.error : error);
            return repaint();
        }
        fPath = file.string();
        fText = text;
        fInfo = info;
        fStatus.clear();
        setState(kStateKeyBundlePath, fPath.c_str());
        setState(kStateKeyBundle, fText.c_str());
        repaint();
    }

    // ---- pieces of the face

    void label(float x, float y, float size, const char* text, int align, Color c = Color(225, 225, 215)) {
        fontSize(size);
        fillColor(c);
        textAlign(align);
        this->text(x, y, text, nullptr);
    }

    void drawTopBar() {
        beginPath();
        rect(0, 0, kWidth, 54);
        fillColor(Color(24, 25, 27));
        fill();
        label(20, 22, 20, "dspnewton  LA-2A", ALIGN_LEFT | ALIGN_MIDDLE, Color(236, 200, 120));
        char line[256];
        const int mode = fValues[kMode] > 0.5f ? dspnewton::kLimit : dspnewton::kCompress;
        const std::string esr = esr_at(fInfo.table, mode, fValues[kPeak]);
        std::snprintf(line, sizeof(line), "%s   %s%s", fInfo.name.c_str(),
                      fInfo.model.c_str(), esr.c_str());
        label(20, 44, 12, line, ALIGN_LEFT | ALIGN_MIDDLE, Color(190, 190, 180));
        button(Hit::Load, 590, 12, 90, 30, "Load…");
        button(Hit::Prev, 688, 12, 40, 30, "<");
        button(Hit::Next, 734, 12, 40, 30, ">");
    }

    void button(Hit::Kind kind, float x, float y, float w, float h, const char* text) {
        beginPath();
        roundedRect(x, y, w, h, 5);
        fillColor(Color(70, 72, 78));
        fill();
        strokeColor(Color(120, 120, 120));
        strokeWidth(1);
        stroke();
        label(x + w / 2, y + h / 2, 14, text, ALIGN_CENTER | ALIGN_MIDDLE);
        hit(kind, 0, 0, x, y, w, h);
    }

    void drawMeter(float x, float y, float w, float h) {
        beginPath();
        roundedRect(x, y, w, h, 8);
        fillColor(Color(18, 18, 18));
        fill();
        beginPath();
        roundedRect(x + 10, y + 10, w - 20, h - 20, 6);
        fillPaint(radialGradient(x + w / 2, y + h, 20, h * 1.1f, Color(250, 236, 190), Color(222, 196, 140)));
        fill();
        const float cx = x + w / 2, cy = y + h - 30, r = h - 90;
        const auto angle = meter_angle;
        // scale: black to 0 VU, red above
        beginPath();
        arc(cx, cy, r, angle(-20), angle(0), NanoVG::CW);
        strokeColor(Color(30, 30, 30));
        strokeWidth(2);
        stroke();
        beginPath();
        arc(cx, cy, r, angle(0), angle(3), NanoVG::CW);
        strokeColor(Color(200, 30, 30));
        strokeWidth(5);
        stroke();
        const int marks[] = {-20, -10, -7, -5, -3, -2, -1, 0, 1, 2, 3};
        for (int db : marks) {
            const float a = angle(static_cast<float>(db));
            beginPath();
            moveTo(cx + r * std::cos(a), cy + r * std::sin(a));
            lineTo(cx + (r + 8) * std::cos(a), cy + (r + 8) * std::sin(a));
            strokeColor(db > 0 ? Color(200, 30, 30) : Color(30, 30, 30));
            strokeWidth(1.5f);
            stroke();
            char t[8];
            std::snprintf(t, sizeof(t), "%d", db < 0 ? -db : db);
            label(cx + (r + 17) * std::cos(a), cy + (r + 17) * std::sin(a), 11, t, ALIGN_CENTER | ALIGN_MIDDLE,
                  db > 0 ? Color(200, 30, 30) : Color(30, 30, 30));
        }
        label(cx, cy - r * 0.45f, 18, "VU", ALIGN_CENTER | ALIGN_MIDDLE, Color(40, 40, 40));
        // needle
        const float a = meter_angle(meter_reading(static_cast<int>(std::lround(fValues[kMeter])),
                                                  fValues[kVuGainReduction], fValues[kVuOutput]));
        beginPath();
        moveTo(cx, cy);
        lineTo(cx + (r + 4) * std::cos(a), cy + (r + 4) * std::sin(a));
        strokeColor(Color(20, 20, 20));
        strokeWidth(2.2f);
        stroke();
        beginPath();
        circle(cx, cy, 7);
        fillColor(Color(20, 20, 20));
        fill();
    }

    void drawMeterSelector(float x, float y) {
        static const char* names[3] = {"GR", "+4", "+10"};
        label(x, y + 50, 11, "METER", ALIGN_LEFT | ALIGN_MIDDLE, Color(170, 170, 160));
        for (int k = 0; k < 3; ++k) {
            const float bx = x + 60 + k * 62;
            const bool on = std::lround(fValues[kMeter]) == k;
            beginPath();
            roundedRect(bx, y + 36, 54, 28, 4);
            fillColor(on ? Color(236, 200, 120) : Color(70, 72, 78));
            fill();
            label(bx + 27, y + 50, 13, names[k], ALIGN_CENTER | ALIGN_MIDDLE,
                  on ? Color(20, 20, 20) : Color(225, 225, 215));
            hit(Hit::Choice, kMeter, static_cast<float>(k), bx, y + 36, 54, 28);
        }
    }

    void drawKnob(uint32_t index, float cx, float cy, float r, const char* name) {
        const ControlSpec& c = control_spec(index);
        const float t = (fValues[index] - c.lo) / (c.hi - c.lo);
        const float a0 = knob_angle(0.0f), a1 = knob_angle(1.0f);
        beginPath();
        circle(cx, cy, r);
        fillPaint(radialGradient(cx - r * 0.3f, cy - r * 0.3f, r * 0.1f, r * 1.2f, Color(70, 70, 72), Color(12, 12, 12)));
        fill();
        beginPath();
        arc(cx, cy, r + 6, a0, a0 + (a1 - a0) * t, NanoVG::CW);
        strokeColor(Color(236, 200, 120));
        strokeWidth(3);
        stroke();
        const float a = knob_angle(t);
        beginPath();
        moveTo(cx + r * 0.25f * std::cos(a), cy + r * 0.25f * std::sin(a));
        lineTo(cx + r * 0.9f * std::cos(a), cy + r * 0.9f * std::sin(a));
        strokeColor(Color(240, 240, 230));
        strokeWidth(r > 40 ? 4.0f : 2.5f);
        stroke();
        label(cx, cy + r + 18, r > 40 ? 14 : 11, name, ALIGN_CENTER | ALIGN_MIDDLE);
        char v[32];
        std::snprintf(v, sizeof(v), "%.1f%s%s", fValues[index], c.unit[0] ? " " : "", c.unit);
        label(cx, cy - r - 14, r > 40 ? 13 : 10, v, ALIGN_CENTER | ALIGN_MIDDLE, Color(190, 190, 180));
        hit(Hit::Knob, index, 0, cx - r, cy - r, 2 * r, 2 * r);
    }

    void drawSwitch(uint32_t index, float x, float y, const char* off, const char* on) {
        const bool v = fValues[index] > 0.5f;
        beginPath();
        roundedRect(x, y, 90, 54, 6);
        fillColor(Color(28, 28, 30));
        fill();
        beginPath();
        roundedRect(x + 8, v ? y + 28 : y + 6, 74, 20, 4);
        fillColor(Color(200, 200, 190));
        fill();
        label(x + 45, y + 16, 11, off, ALIGN_CENTER | ALIGN_MIDDLE, v ? Color(150, 150, 140) : Color(20, 20, 20));
        label(x + 45, y + 38, 11, on, ALIGN_CENTER | ALIGN_MIDDLE, v ? Color(20, 20, 20) : Color(150, 150, 140));
        hit(Hit::Toggle, index, 0, x, y, 90, 54);
    }

    void drawToggle(uint32_t index, float x, float y, const char* name) {
        const bool v = fValues[index] > 0.5f;
        beginPath();
        circle(x, y + 10, 8);
        fillColor(v ? Color(240, 60, 40) : Color(60, 20, 18));
        fill();
        label(x + 14, y + 10, 12, name, ALIGN_LEFT | ALIGN_MIDDLE);
        hit(Hit::Toggle, index, 0, x - 10, y, 70, 20);
    }

    void drawStatus() {
        if (fStatus.empty()) return;
        beginPath();
        rect(0, kHeight - 24, kWidth, 24);
        fillColor(Color(110, 30, 25));
        fill();
        label(12, kHeight - 12, 12, fStatus.c_str(), ALIGN_LEFT | ALIGN_MIDDLE);
    }

    float fValues[kParamCount];
    std::string fText, fPath, fStatus;
    BundleInfo fInfo;
    std::vector<Hit> fHits;
    int fDrag = -1;
    float fDragY = 0.0f, fDragStart = 0.0f;

    DISTRHO_DECLARE_NON_COPYABLE_WITH_LEAK_DETECTOR(DSPNewtonUI)
};

UI* createUI() { return new DSPNewtonUI(); }

END_NAMESPACE_DISTRHO
