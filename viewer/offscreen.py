"""Headless OpenGL: an EGL surfaceless context (Mesa's EGL_MESA_platform_surfaceless, no X or
Wayland) with an RGBA8 framebuffer object to draw into and read back.

PyOpenGL picks its platform once, at first import, from PYOPENGL_PLATFORM; this module must be
imported with PYOPENGL_PLATFORM=egl set before anything imports OpenGL (the tests run it in a
subprocess for that reason). Used by the offscreen tests and by servers that render frames without
a display.
"""

from __future__ import annotations

import ctypes
import os

import numpy as np

from vidgen_rt.errors import VidgenError

if os.environ.get("PYOPENGL_PLATFORM") != "egl":
    raise VidgenError("vidgen_rt.viewer.offscreen needs PYOPENGL_PLATFORM=egl set before OpenGL is imported")

from OpenGL import EGL  # noqa: E402
from OpenGL import GL as gl  # noqa: E402

from vidgen_rt.viewer.glutil import read_framebuffer  # noqa: E402

EGL_PLATFORM_SURFACELESS_MESA = 0x31DD


class OffscreenContext:
    """A current OpenGL 3.3 core context without a window, drawing into a width×height FBO."""

    def __init__(self, width: int, height: int):
        from OpenGL.EGL.EXT.platform_base import eglGetPlatformDisplayEXT

        self.display = eglGetPlatformDisplayEXT(EGL_PLATFORM_SURFACELESS_MESA, EGL.EGL_DEFAULT_DISPLAY, None)
        major, minor = EGL.EGLint(), EGL.EGLint()
        if not self.display or not EGL.eglInitialize(self.display, ctypes.pointer(major), ctypes.pointer(minor)):
            raise VidgenError("EGL: no surfaceless display (is Mesa's libEGL installed?)")
        config, count = EGL.EGLConfig(), EGL.EGLint()
        wanted = (EGL.EGLint * 5)(EGL.EGL_RENDERABLE_TYPE, EGL.EGL_OPENGL_BIT,
                                  EGL.EGL_SURFACE_TYPE, EGL.EGL_PBUFFER_BIT, EGL.EGL_NONE)
        if not EGL.eglChooseConfig(self.display, wanted, ctypes.pointer(config), 1, ctypes.pointer(count)) \
                or count.value < 1:
            raise VidgenError("EGL: no config with desktop OpenGL")
        EGL.eglBindAPI(EGL.EGL_OPENGL_API)
        attributes = (EGL.EGLint * 7)(EGL.EGL_CONTEXT_MAJOR_VERSION, 3, EGL.EGL_CONTEXT_MINOR_VERSION, 3,
                                      EGL.EGL_CONTEXT_OPENGL_PROFILE_MASK, EGL.EGL_CONTEXT_OPENGL_CORE_PROFILE_BIT,
                                      EGL.EGL_NONE)
        self.context = EGL.eglCreateContext(self.display, config, EGL.EGL_NO_CONTEXT, attributes)
        if not self.context or not EGL.eglMakeCurrent(self.display, EGL.EGL_NO_SURFACE, EGL.EGL_NO_SURFACE,
                                                      self.context):
            raise VidgenError("EGL: could not create an OpenGL 3.3 core context")
        self.width, self.height = width, height
        self.framebuffer = int(gl.glGenFramebuffers(1))
        self.renderbuffer = int(gl.glGenRenderbuffers(1))
        gl.glBindRenderbuffer(gl.GL_RENDERBUFFER, self.renderbuffer)
        gl.glRenderbufferStorage(gl.GL_RENDERBUFFER, gl.GL_RGBA8, width, height)
        gl.glBindFramebuffer(gl.GL_FRAMEBUFFER, self.framebuffer)
        gl.glFramebufferRenderbuffer(gl.GL_FRAMEBUFFER, gl.GL_COLOR_ATTACHMENT0, gl.GL_RENDERBUFFER, self.renderbuffer)
        if gl.glCheckFramebufferStatus(gl.GL_FRAMEBUFFER) != gl.GL_FRAMEBUFFER_COMPLETE:
            raise VidgenError("OpenGL: the offscreen framebuffer is incomplete")
        gl.glViewport(0, 0, width, height)

    @property
    def renderer(self) -> str:
        return gl.glGetString(gl.GL_RENDERER).decode()

    def read_pixels(self) -> np.ndarray:
        """The framebuffer as uint8 (height, width, 3), top row first."""
        return read_framebuffer(self.width, self.height)

    def close(self) -> None:
        gl.glDeleteFramebuffers(1, [self.framebuffer])
        gl.glDeleteRenderbuffers(1, [self.renderbuffer])
        EGL.eglMakeCurrent(self.display, EGL.EGL_NO_SURFACE, EGL.EGL_NO_SURFACE, EGL.EGL_NO_CONTEXT)
        EGL.eglDestroyContext(self.display, self.context)
        EGL.eglTerminate(self.display)

