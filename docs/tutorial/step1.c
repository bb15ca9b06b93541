/* Tutorial step 1: tasks, sleep, spawn + join, gather (docs/tutorial.md). */
#include <cio.h>
#include <stdio.h>
#include <string.h>

struct greeting {
    const char *what;
    double delay;
};

/* async def say(what, delay) */
static intptr_t say(void *arg)
{
    const struct greeting *g = arg;
    int rc = cio_sleep(g->delay);
    if (rc < 0)
        return rc; /* -ECANCELED: somebody cancelled this task */
    printf("%s\n", g->what);
    return (intptr_t)strlen(g->what);
}

static intptr_t main_task(void *arg)
{
    (void)arg;
    struct greeting world = {"world", 0.2}, hello = {"hello", 0.1};

    cio_task *t;
    int rc = cio_spawn(&t, say, &world, NULL); /* asyncio.create_task */
    if (rc < 0)
        return rc;
    say(&hello); /* await say(...): just call it */
    intptr_t len;
    if ((rc = cio_join(t, &len)) < 0) /* await t */
        return rc;
    printf("\"world\" has %ld letters\n", (long)len);

    struct greeting g[3] = {{"a", 0.3}, {"b", 0.1}, {"c", 0.2}};
    cio_task *tasks[3];
    intptr_t results[3];
    size_t n = 0;
    while (n < 3 && (rc = cio_spawn(&tasks[n], say, &g[n], NULL)) == 0)
        n++;
    int grc = cio_gather(tasks, n, results); /* releases every handle */
    if (rc < 0 || grc < 0)
        return rc < 0 ? rc : grc;
    printf("gathered %ld %ld %ld\n", (long)results[0], (long)results[1], (long)results[2]);
    return 0;
}

int main(void)
{
    intptr_t rc = cio_run(main_task, NULL); /* asyncio.run(main()) */
    if (rc < 0)
        fprintf(stderr, "step1: %s\n", cio_strerror((int)rc));
    return rc == 0 ? 0 : 1;
}
