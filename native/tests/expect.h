/* expect.h: the check macros of the native test programs (test_driver.c, pack_driver.c). A failed
 * check prints its file, line, what was expected and vgrt_last_error(), and counts in `failures`;
 * the program carries on and exits 1 at the end if any failed. */
#ifndef VGRT_TESTS_EXPECT_H
#define VGRT_TESTS_EXPECT_H

#include <stdio.h>

#include "vidgen_rt.h"

static int failures = 0;

#define EXPECT(condition, what)                                                                   \
    do {                                                                                          \
        if (!(condition)) {                                                                       \
            fprintf(stderr, "FAIL %s:%d: %s (last error: %s)\n", __FILE__, __LINE__, what,        \
                    vgrt_last_error());                                                           \
            ++failures;                                                                           \
        }                                                                                         \
    } while (0)

#define EXPECT_STATUS(call, status) EXPECT((call) == (status), #call " == " #status)
#define EXPECT_ERROR(call, status)                                                                \
    do {                                                                                          \
        EXPECT_STATUS(call, status);                                                              \
        EXPECT(vgrt_last_error()[0] != '\0', "an error message for " #call);                      \
    } while (0)

#endif /* VGRT_TESTS_EXPECT_H */
