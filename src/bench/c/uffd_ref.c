/*
 * uffd-ref: the C reference for the uffd4j benchmarks (see BENCHMARKS.md).
 *
 * It does what the JMH benchmarks in src/bench/java do, the way a careful C programmer would:
 * one handler thread that waits in poll(2) on the userfaultfd and a stop eventfd, reads up to 64
 * messages per read(2) and resolves each fault with one ioctl. Touches are plain loads and
 * stores. The methodology is the Java side's, so the two can be put side by side:
 *
 *   - an invocation touches OPS (256) units of one chunk of memory, timing each touch with
 *     CLOCK_MONOTONIC; between invocations the chunk is reset (untimed);
 *   - ops/s of an iteration = ops / time spent inside invocations; the result is the mean over
 *     the measurement iterations (with several touching threads, the sum over threads);
 *   - p50/p99 of an iteration come from every touch latency of that iteration, sorted (the
 *     first 1M per thread); the result is the mean over the measurement iterations;
 *   - random order is the same seeded permutation as the Java side's (SplitMix64, seed 42).
 *
 * Usage: uffd-ref [--cases a,b,...|all] [--warmup N] [--iterations N] [--time-ms N] [--cross-cpu]
 * Prints CSV: case,threads,ops_per_s,ops_per_s_sd,bytes_per_op,p50_ns,p99_ns,ops
 * With --cross-cpu, touching threads run on CPU 0 and the handler thread on CPU 1; otherwise the
 * caller pins the whole process (scripts/bench uses taskset).
 *
 * Build: gcc -O2 -pthread -I native-headers src/bench/c/uffd_ref.c -o uffd-ref -lm
 */
#define _GNU_SOURCE 1
#include <linux/userfaultfd.h>
#include "uffd4j-abi-ext.h"

#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define OPS 256                 /* units touched per invocation, as @OperationsPerInvocation */
#define BATCH 64                /* messages per read(2) */
#define FAULT_AROUND (64 * 1024)
#define MAX_THREADS 4
#define MAX_SAMPLES (1 << 20)   /* per thread and iteration */

static long page;
static int warmup_iterations = 3, measure_iterations = 5, iteration_ms = 1000, cross_cpu;

static void die(const char *what) {
    fprintf(stderr, "uffd-ref: %s: %s\n", what, strerror(errno));
    exit(1);
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void pin(int cpu) {
    if (!cross_cpu) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) die("sched_setaffinity");
}

/* SplitMix64-driven Fisher-Yates shuffle of 0..n-1: the same order as the Java side's Order.random. */
static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void permutation(int *order, int n, int random) {
    for (int i = 0; i < n; i++) order[i] = i;
    if (!random) return;
    uint64_t seed = 42;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(splitmix(&seed) % (uint64_t)(i + 1));
        int t = order[i]; order[i] = order[j]; order[j] = t;
    }
}

static void *map_anon(size_t len) {
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) die("mmap");
    return p;
}

static void fill_pattern(unsigned char *p, size_t len) {
    for (size_t i = 0; i < len; i += 8) *(uint64_t *)(p + i) = 0x0101010101010101ull * (unsigned char)(i / page + 1) + i;
}

/* ---- the userfaultfd and its handler thread ------------------------------------------------ */

enum resolve { R_COPY, R_ZEROPAGE, R_CONTINUE, R_UNPROTECT };

struct handler {
    int uffd, stopfd;
    enum resolve how;
    uintptr_t base;             /* registered memory */
    const unsigned char *src;   /* COPY source, same layout as the registered memory */
    size_t unit;                /* bytes resolved per fault */
    pthread_t thread;
};

static int open_uffd(uint64_t features) {
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        fd = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
        if (fd < 0) die("userfaultfd (and /dev/userfaultfd)");
        fd = ioctl(fd, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) die("USERFAULTFD_IOC_NEW");
    }
    struct uffdio_api api = { .api = UFFD_API, .features = features };
    if (ioctl(fd, UFFDIO_API, &api) != 0) die("UFFDIO_API");
    return fd;
}

static void register_range(int uffd, void *p, size_t len, uint64_t mode) {
    struct uffdio_register r = { .range = { (uintptr_t)p, len }, .mode = mode };
    if (ioctl(uffd, UFFDIO_REGISTER, &r) != 0) die("UFFDIO_REGISTER");
}

static void wake(int uffd, uintptr_t a, size_t len) {
    struct uffdio_range r = { a, len };
    if (ioctl(uffd, UFFDIO_WAKE, &r) != 0) die("UFFDIO_WAKE");
}

static void resolve(struct handler *h, uintptr_t addr) {
    uintptr_t a = addr & ~(uintptr_t)(h->unit - 1);
    int rc;
    switch (h->how) {
    case R_COPY: {
        struct uffdio_copy c = { .dst = a, .src = (uintptr_t)h->src + (a - h->base), .len = h->unit };
        rc = ioctl(h->uffd, UFFDIO_COPY, &c);
        break;
    }
    case R_ZEROPAGE: {
        struct uffdio_zeropage z = { .range = { a, h->unit } };
        rc = ioctl(h->uffd, UFFDIO_ZEROPAGE, &z);
        break;
    }
    case R_CONTINUE: {
        struct uffdio_continue c = { .range = { a, h->unit } };
        rc = ioctl(h->uffd, UFFDIO_CONTINUE, &c);
        break;
    }
    default: {
        struct uffdio_writeprotect w = { .range = { a, h->unit }, .mode = 0 };
        rc = ioctl(h->uffd, UFFDIO_WRITEPROTECT, &w);
        break;
    }
    }
    if (rc != 0) {
        if (errno == EEXIST) wake(h->uffd, a, h->unit);   /* resolved by someone else: wake the reader */
        else die("resolving a fault");
    }
}

static void *handler_main(void *arg) {
    struct handler *h = arg;
    struct uffd_msg msgs[BATCH];
    struct pollfd fds[2] = { { h->uffd, POLLIN, 0 }, { h->stopfd, POLLIN, 0 } };
    pin(1);
    for (;;) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            die("poll");
        }
        if (fds[1].revents) return NULL;
        ssize_t n = read(h->uffd, msgs, sizeof msgs);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            die("read(userfaultfd)");
        }
        for (ssize_t i = 0; i < n / (ssize_t)sizeof msgs[0]; i++)
            if (msgs[i].event == UFFD_EVENT_PAGEFAULT) resolve(h, msgs[i].arg.pagefault.address);
    }
}

static void start_handler(struct handler *h) {
    h->stopfd = eventfd(0, EFD_CLOEXEC);
    if (h->stopfd < 0) die("eventfd");
    errno = pthread_create(&h->thread, NULL, handler_main, h);
    if (errno) die("pthread_create");
}

static void stop_handler(struct handler *h) {
    uint64_t one = 1;
    if (write(h->stopfd, &one, 8) != 8) die("write(eventfd)");
    pthread_join(h->thread, NULL);
    close(h->stopfd);
    close(h->uffd);
}

/* ---- cases ----------------------------------------------------------------------------------- */

enum touch { T_READ, T_WRITE, T_IOCTL_COPY, T_IOCTL_WAKE, T_IOCTL_WP };

struct bench {
    const char *name;
    int threads;
    size_t unit;                /* bytes per op */
    int random;
    enum touch touch;
    enum resolve how;
    int uffd_mode;              /* 0: no userfaultfd (the floor) */
};

/* One touching thread's view of the case. */
struct worker {
    const struct bench *b;
    int uffd;
    unsigned char *chunk;       /* OPS * unit bytes, registered */
    const unsigned char *src;
    int order[OPS];
    uint64_t *samples;
    size_t nsamples;
    uint64_t ops, timed_ns;
    pthread_barrier_t *barrier;
    volatile int *phase;        /* iteration number set by the main thread; -1 ends */
    volatile int *running;
};

static void reset_chunk(struct worker *w) {
    size_t len = OPS * w->b->unit;
    if (w->b->touch == T_IOCTL_WP) {
        struct uffdio_writeprotect p = { .range = { (uintptr_t)w->chunk, len }, .mode = 0 };
        if (ioctl(w->uffd, UFFDIO_WRITEPROTECT, &p) != 0) die("UFFDIO_WRITEPROTECT (reset)");
    } else if (w->b->uffd_mode == UFFDIO_REGISTER_MODE_WP) {
        struct uffdio_writeprotect p = { .range = { (uintptr_t)w->chunk, len }, .mode = UFFDIO_WRITEPROTECT_MODE_WP };
        if (ioctl(w->uffd, UFFDIO_WRITEPROTECT, &p) != 0) die("UFFDIO_WRITEPROTECT (reset)");
    } else if (w->b->touch != T_IOCTL_WAKE) {
        if (madvise(w->chunk, len, MADV_DONTNEED) != 0) die("madvise(MADV_DONTNEED)");
    }
}

static void invocation(struct worker *w) {
    const struct bench *b = w->b;
    size_t unit = b->unit;
    uint64_t start = now_ns();
    for (int k = 0; k < OPS; k++) {
        unsigned char *p = w->chunk + (size_t)w->order[k] * unit;
        uint64_t t0 = now_ns();
        switch (b->touch) {
        case T_READ:
            for (size_t off = 0; off < unit; off += page) (void)*(volatile unsigned char *)(p + off);
            break;
        case T_WRITE:
            *(volatile unsigned char *)p = 1;
            break;
        case T_IOCTL_COPY: {
            struct uffdio_copy c = { .dst = (uintptr_t)p, .src = (uintptr_t)w->src, .len = unit, .mode = UFFDIO_COPY_MODE_DONTWAKE };
            if (ioctl(w->uffd, UFFDIO_COPY, &c) != 0) die("UFFDIO_COPY");
            break;
        }
        case T_IOCTL_WAKE:
            wake(w->uffd, (uintptr_t)p, unit);
            break;
        case T_IOCTL_WP: {
            struct uffdio_writeprotect c = { .range = { (uintptr_t)p, unit }, .mode = UFFDIO_WRITEPROTECT_MODE_WP };
            if (ioctl(w->uffd, UFFDIO_WRITEPROTECT, &c) != 0) die("UFFDIO_WRITEPROTECT");
            break;
        }
        }
        uint64_t t1 = now_ns();
        if (w->nsamples < MAX_SAMPLES) w->samples[w->nsamples++] = t1 - t0;
    }
    w->timed_ns += now_ns() - start;
    w->ops += OPS;
    reset_chunk(w);
}

static void *worker_main(void *arg) {
    struct worker *w = arg;
    pin(0);
    for (;;) {
        pthread_barrier_wait(w->barrier);        /* iteration start */
        if (*w->phase < 0) return NULL;
        w->ops = w->timed_ns = 0;
        w->nsamples = 0;
        while (*w->running) invocation(w);
        pthread_barrier_wait(w->barrier);        /* iteration end */
    }
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void check_contents(const struct bench *b, struct worker *w) {
    /* after one invocation (before its reset) every unit must hold what the handler put there */
    if (b->touch != T_READ) return;
    for (int k = 0; k < OPS; k += 37) {
        size_t off = (size_t)k * b->unit + b->unit - 8;
        uint64_t want = b->how == R_ZEROPAGE ? 0 : *(const uint64_t *)(w->src + off);
        if (*(volatile uint64_t *)(w->chunk + off) != want) {
            fprintf(stderr, "uffd-ref: %s: wrong contents at offset %zu\n", b->name, off);
            exit(1);
        }
    }
}

static void run(const struct bench *b) {
    int n = b->threads;
    size_t chunk = OPS * b->unit, total = chunk * (size_t)n;
    struct handler h = { 0 };
    struct worker ws[MAX_THREADS];
    pthread_t threads[MAX_THREADS];
    pthread_barrier_t barrier;
    volatile int phase = 0, running = 0;
    unsigned char *mem, *src = map_anon(total);
    fill_pattern(src, total);
    int uffd = -1, memfd = -1;

    if (b->how == R_CONTINUE) {
        memfd = memfd_create("uffd-ref", MFD_CLOEXEC);
        if (memfd < 0 || ftruncate(memfd, (off_t)total) != 0) die("memfd_create/ftruncate");
        unsigned char *alias = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
        mem = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
        if (alias == MAP_FAILED || mem == MAP_FAILED) die("mmap(memfd)");
        memcpy(alias, src, total);               /* the page cache is filled through the alias */
    } else {
        mem = map_anon(total);
    }
    if (b->uffd_mode == UFFDIO_REGISTER_MODE_WP) memcpy(mem, src, total);   /* present pages to protect */
    if (b->uffd_mode) {
        uint64_t features = b->uffd_mode == UFFDIO_REGISTER_MODE_MINOR ? UFFD_FEATURE_MINOR_SHMEM : 0;
        uffd = open_uffd(features);
        register_range(uffd, mem, total, (uint64_t)b->uffd_mode);
        if (b->touch <= T_WRITE) {
            h = (struct handler){ .uffd = uffd, .how = b->how, .base = (uintptr_t)mem, .src = src, .unit = b->unit };
            start_handler(&h);
        }
    }
    pthread_barrier_init(&barrier, NULL, (unsigned)n + 1);
    for (int t = 0; t < n; t++) {
        ws[t] = (struct worker){ .b = b, .uffd = uffd, .chunk = mem + chunk * (size_t)t,
                                 .src = src + chunk * (size_t)t, .barrier = &barrier, .phase = &phase, .running = &running };
        permutation(ws[t].order, OPS, b->random);
        ws[t].samples = malloc(MAX_SAMPLES * sizeof(uint64_t));
        if (!ws[t].samples) die("malloc");
        reset_chunk(&ws[t]);
    }
    /* one untimed pass first checks that the faults are resolved with the right contents */
    if (b->touch == T_READ) {
        struct worker *w = &ws[0];
        for (int k = 0; k < OPS; k++)
            for (size_t off = 0; off < b->unit; off += page) (void)*(volatile unsigned char *)(w->chunk + (size_t)k * b->unit + off);
        check_contents(b, w);
        reset_chunk(w);
    }
    for (int t = 0; t < n; t++) {
        errno = pthread_create(&threads[t], NULL, worker_main, &ws[t]);
        if (errno) die("pthread_create");
    }
    double sum = 0, sumsq = 0, p50 = 0, p99 = 0;
    uint64_t total_ops = 0;
    uint64_t *merged = malloc((size_t)n * MAX_SAMPLES * sizeof(uint64_t));
    if (!merged) die("malloc");
    for (int it = 0; it < warmup_iterations + measure_iterations; it++) {
        phase = it;
        running = 1;
        pthread_barrier_wait(&barrier);
        struct timespec d = { iteration_ms / 1000, (long)(iteration_ms % 1000) * 1000000L };
        nanosleep(&d, NULL);
        running = 0;
        pthread_barrier_wait(&barrier);
        if (it < warmup_iterations) continue;
        double rate = 0;
        size_t m = 0;
        for (int t = 0; t < n; t++) {
            rate += ws[t].timed_ns ? ws[t].ops * 1e9 / (double)ws[t].timed_ns : 0;
            total_ops += ws[t].ops;
            memcpy(merged + m, ws[t].samples, ws[t].nsamples * sizeof(uint64_t));
            m += ws[t].nsamples;
        }
        qsort(merged, m, sizeof(uint64_t), cmp_u64);
        sum += rate;
        sumsq += rate * rate;
        if (m) {
            p50 += (double)merged[(size_t)(0.50 * (double)(m - 1))];
            p99 += (double)merged[(size_t)(0.99 * (double)(m - 1))];
        }
    }
    phase = -1;
    pthread_barrier_wait(&barrier);
    for (int t = 0; t < n; t++) {
        pthread_join(threads[t], NULL);
        free(ws[t].samples);
    }
    free(merged);
    if (b->uffd_mode && b->touch <= T_WRITE) stop_handler(&h);
    else if (uffd >= 0) close(uffd);
    pthread_barrier_destroy(&barrier);
    munmap(mem, total);
    munmap(src, total);
    if (memfd >= 0) close(memfd);

    double k = measure_iterations, mean = sum / k;
    double sd = k > 1 ? sqrt((sumsq - k * mean * mean) / (k - 1)) : 0;
    printf("%s,%d,%.1f,%.1f,%zu,%.0f,%.0f,%llu\n", b->name, n, mean, sd, b->unit, p50 / k, p99 / k,
           (unsigned long long)total_ops);
    fflush(stdout);
}

static const struct bench CASES[] = {
    /* name           threads unit         random touch         resolve      register mode */
    { "copy4k-seq",   1, 0,            0, T_READ,       R_COPY,      UFFDIO_REGISTER_MODE_MISSING },
    { "copy4k-rand",  1, 0,            1, T_READ,       R_COPY,      UFFDIO_REGISTER_MODE_MISSING },
    { "copy64k-seq",  1, FAULT_AROUND, 0, T_READ,       R_COPY,      UFFDIO_REGISTER_MODE_MISSING },
    { "copy64k-rand", 1, FAULT_AROUND, 1, T_READ,       R_COPY,      UFFDIO_REGISTER_MODE_MISSING },
    { "zeropage",     1, 0,            0, T_READ,       R_ZEROPAGE,  UFFDIO_REGISTER_MODE_MISSING },
    { "minor",        1, 0,            0, T_READ,       R_CONTINUE,  UFFDIO_REGISTER_MODE_MINOR },
    { "wp",           1, 0,            0, T_WRITE,      R_UNPROTECT, UFFDIO_REGISTER_MODE_WP },
    { "4threads",     4, 0,            0, T_READ,       R_COPY,      UFFDIO_REGISTER_MODE_MISSING },
    { "ioctl-copy",   1, 0,            0, T_IOCTL_COPY, R_COPY,      UFFDIO_REGISTER_MODE_MISSING },
    { "ioctl-wake",   1, 0,            0, T_IOCTL_WAKE, R_COPY,      UFFDIO_REGISTER_MODE_MISSING },
    { "ioctl-wp",     1, 0,            0, T_IOCTL_WP,   R_COPY,      UFFDIO_REGISTER_MODE_WP },
    { "floor",        1, 0,            0, T_WRITE,      R_COPY,      0 },
    /* C only, for the report's context: how fast the kernel fills memory in 2 MiB COPYs, no fault */
    { "ioctl-copy2m", 1, 2 << 20,      0, T_IOCTL_COPY, R_COPY,      UFFDIO_REGISTER_MODE_MISSING },
};

static int wanted(const char *list, const char *name) {
    if (!list || strcmp(list, "all") == 0) return 1;
    size_t len = strlen(name);
    for (const char *p = list; (p = strstr(p, name)) != NULL; p += len)
        if ((p == list || p[-1] == ',') && (p[len] == ',' || p[len] == 0)) return 1;
    return 0;
}

static int int_arg(int argc, char **argv, int *i) {
    if (*i + 1 >= argc) { fprintf(stderr, "uffd-ref: %s needs a value\n", argv[*i]); exit(2); }
    return atoi(argv[++*i]);
}

int main(int argc, char **argv) {
    const char *cases = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--cases") == 0 && i + 1 < argc) cases = argv[++i];
        else if (strcmp(argv[i], "--warmup") == 0) warmup_iterations = int_arg(argc, argv, &i);
        else if (strcmp(argv[i], "--iterations") == 0) measure_iterations = int_arg(argc, argv, &i);
        else if (strcmp(argv[i], "--time-ms") == 0) iteration_ms = int_arg(argc, argv, &i);
        else if (strcmp(argv[i], "--cross-cpu") == 0) cross_cpu = 1;
        else if (strcmp(argv[i], "--list") == 0) {
            for (size_t c = 0; c < sizeof CASES / sizeof CASES[0]; c++) puts(CASES[c].name);
            return 0;
        } else {
            fprintf(stderr, "usage: uffd-ref [--cases a,b,...|all] [--warmup N] [--iterations N] [--time-ms N] [--cross-cpu] [--list]\n");
            return 2;
        }
    }
    if (measure_iterations < 1 || warmup_iterations < 0 || iteration_ms < 1) {
        fprintf(stderr, "uffd-ref: --iterations and --time-ms must be positive\n");
        return 2;
    }
    page = sysconf(_SC_PAGESIZE);
    puts("case,threads,ops_per_s,ops_per_s_sd,bytes_per_op,p50_ns,p99_ns,ops");
    for (size_t c = 0; c < sizeof CASES / sizeof CASES[0]; c++) {
        struct bench b = CASES[c];
        if (!wanted(cases, b.name)) continue;
        if (b.unit == 0) b.unit = (size_t)page;
        run(&b);
    }
    return 0;
}
