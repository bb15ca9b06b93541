/* Smallest consumer of an installed cio: checks that the public header,
 * the library and its link flags work from outside the source tree. */
#include <cio.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>

static intptr_t main_task(void *arg)
{
    (void)arg;
    int rc = cio_sleep(0.01);
    if (rc != 0) {
        fprintf(stderr, "hello: cio_sleep: %s\n", cio_strerror(rc));
        return 1;
    }
    return 0;
}

int main(void)
{
    const char *msg = cio_strerror(-ECONNRESET);
    if (msg == NULL || msg[0] == '\0') {
        fprintf(stderr, "hello: cio_strerror(-ECONNRESET) is empty\n");
        return 1;
    }
    intptr_t rc = cio_run(main_task, NULL);
    if (rc != 0) {
        fprintf(stderr, "hello: cio_run returned %ld\n", (long)rc);
        return 1;
    }
    printf("hello from cio %d.%d.%d: %s\n", CIO_VERSION_MAJOR, CIO_VERSION_MINOR, CIO_VERSION_PATCH,
           msg);
    return 0;
}
