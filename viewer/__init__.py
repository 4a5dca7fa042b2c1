"""vidgen_rt.viewer: play a generated world on screen.

A GLFW window with a PyOpenGL (core profile 3.3) renderer that streams frames from the runtime into a
texture, maps keyboard and gamepad input to the bundle's actions, and draws a HUD; plus an embed API
that draws into a GL context owned by a host application and leaves the loop to the host, and a VR
mode that reprojects 360° panoramas at display rate. Installed as `vidgen_rt.viewer` (source folder
`viewer/`).
"""
