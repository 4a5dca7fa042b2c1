"""vidgen_rt.viewer: play a generated world on screen.

Today: `window.py`, a GLFW + PyOpenGL (core profile 3.3) window that draws each generated frame as
a texture and maps the keyboard to the world's actions; `vidgen play` uses it. The streaming
renderer with a HUD, the embed API for hosts that own their GL context, and the VR panorama
reprojection are to be built on it. Installed as `vidgen_rt.viewer` (source folder `viewer/`).
"""
