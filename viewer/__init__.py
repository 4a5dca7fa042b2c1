"""vidgen_rt.viewer: play a generated world on screen, or draw it inside a host's own GL context.

Two halves, taken separately (docs/architecture.md §6): the renderer half — `embed.py`
(`FrameRenderer`, `PanoramaRenderer`, streamed textures), `hud.py`, `glutil.py` (GL state
save/restore) — works in any current OpenGL 3.3 core context and never touches windows or input; the
platform half — `window.py` (GLFW window, keyboard, mouse, gamepad, the display loop of `vidgen
play`) with `controls.py` (keys and gamepads to actions) and `controller.py` (`StreamController`:
pause, step, rewind, reset, recording) — drives a stepper from `vidgen_rt.open_stepper` for the
person playing. `offscreen.py` gives a headless EGL context. Installed as `vidgen_rt.viewer` (source
folder `viewer/`). See docs/viewer.md.
"""
