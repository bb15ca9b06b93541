/* Linked into every test binary of the sanitizer build (CIO_SANITIZE).
 *
 * Criterion runs each test in a worker process (re-executed by BoxFort,
 * which sets BXFI_MAP in the worker's environment) and collects results in
 * a runner process.  Criterion 2.4's runner leaks a small allocation of its
 * own when it runs tests in parallel, which LeakSanitizer would report at
 * the runner's exit and turn into a failure.  Only the workers run test and
 * library code, so leak checking is switched off in the runner alone.
 * LeakSanitizer calls this hook, if defined, before its exit-time check. */
#include <stdlib.h>

int __lsan_is_turned_off(void);

__attribute__((visibility("default"), used)) int __lsan_is_turned_off(void)
{
    return getenv("BXFI_MAP") == NULL;
}
