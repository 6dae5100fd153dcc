/*
 * Multi-source bounded Dijkstra on a CSR graph, seeded with initial costs.
 *
 * multi_source(indptr, head, cost, seed_node, seed_cost, seed_source, limit,
 *              out_cost, out_source)
 *
 *   indptr      int64[n + 1]   CSR row pointers (arcs of node i: indptr[i]..indptr[i+1])
 *   head        int32[m]       arc heads
 *   cost        float64[m]     arc costs (>= 0)
 *   seed_node   int32[k]       nodes where the search starts ...
 *   seed_cost   float64[k]     ... at these costs (partial edge + access leg) ...
 *   seed_source int64[k]       ... on behalf of these sources (facility indices)
 *   limit       float          costs above it are not settled (inf for none)
 *   out_cost    float64[n]     written: cost to the cheapest source (inf if none within limit)
 *   out_source  int64[n]       written: that source (-1 if none)
 *
 * One search, a radix heap with lazy deletion; the GIL is released while it runs.
 * Equivalent to adding one virtual node per seed and running scipy's
 * csgraph.dijkstra(min_only=True), without building the augmented graph.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    double key;
    int32_t node;
} entry;

/* A radix heap: a monotone priority queue (Dijkstra never pops a key below the last one
 * popped). Non-negative doubles order like their IEEE-754 bit patterns read as unsigned
 * integers, so the key's bits pick its bucket: bucket b holds keys whose bits first differ
 * from the last popped key's at bit b-1. Pops take bucket 0, or empty the first non-empty
 * bucket into lower ones. Amortised O(64) per entry, few branches, cache-friendly. */
#define NBUCKETS 65

typedef struct {
    entry *data;
    size_t size;
    size_t capacity;
} bucket;

typedef struct {
    bucket b[NBUCKETS];
    uint64_t last;
    size_t size;
} heap;

static inline uint64_t key_bits(double key) {
    uint64_t bits;
    memcpy(&bits, &key, sizeof bits);
    return bits;
}

static inline int bucket_of(uint64_t bits, uint64_t last) {
    uint64_t diff = bits ^ last;
    return diff ? 64 - __builtin_clzll(diff) : 0;
}

static int bucket_add(bucket *b, entry e) {
    if (b->size == b->capacity) {
        size_t cap = b->capacity ? b->capacity * 2 : 256;
        entry *grown = (entry *)realloc(b->data, cap * sizeof(entry));
        if (!grown) return -1;
        b->data = grown;
        b->capacity = cap;
    }
    b->data[b->size++] = e;
    return 0;
}

static int heap_push(heap *h, double key, int32_t node) {
    entry e = {key + 0.0, node}; /* + 0.0 turns -0.0, whose sign bit would sort last, into 0 */
    h->size++;
    return bucket_add(&h->b[bucket_of(key_bits(key), h->last)], e);
}

/* Pop the entry with the smallest key; h->size must be > 0. */
static int heap_pop(heap *h, entry *out) {
    if (h->b[0].size == 0) {
        int i = 1;
        while (h->b[i].size == 0) i++;
        bucket *src = &h->b[i];
        uint64_t least = key_bits(src->data[0].key);
        for (size_t j = 1; j < src->size; j++) {
            uint64_t bits = key_bits(src->data[j].key);
            if (bits < least) least = bits;
        }
        h->last = least;
        size_t count = src->size;
        src->size = 0;
        for (size_t j = 0; j < count; j++) {
            entry e = src->data[j];
            if (bucket_add(&h->b[bucket_of(key_bits(e.key), h->last)], e)) return -1;
        }
    }
    *out = h->b[0].data[--h->b[0].size];
    h->size--;
    return 0;
}

static void heap_free(heap *h) {
    for (int i = 0; i < NBUCKETS; i++) free(h->b[i].data);
}

static int check(Py_buffer *b, Py_ssize_t itemsize, Py_ssize_t count, const char *name) {
    if (b->itemsize != itemsize || b->len != itemsize * count) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd items of %zd bytes, got %zd bytes",
                     name, count, itemsize, b->len);
        return -1;
    }
    return 0;
}

static PyObject *multi_source(PyObject *self, PyObject *args) {
    Py_buffer indptr_b, head_b, cost_b, snode_b, scost_b, ssrc_b, ocost_b, osrc_b;
    double limit;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*dw*w*", &indptr_b, &head_b, &cost_b, &snode_b,
                          &scost_b, &ssrc_b, &limit, &ocost_b, &osrc_b))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = ocost_b.len / (Py_ssize_t)sizeof(double);
    Py_ssize_t m = head_b.len / (Py_ssize_t)sizeof(int32_t);
    Py_ssize_t k = snode_b.len / (Py_ssize_t)sizeof(int32_t);
    if (check(&indptr_b, sizeof(int64_t), n + 1, "indptr") || check(&head_b, 4, m, "head") ||
        check(&cost_b, 8, m, "cost") || check(&snode_b, 4, k, "seed_node") ||
        check(&scost_b, 8, k, "seed_cost") || check(&ssrc_b, 8, k, "seed_source") ||
        check(&osrc_b, 8, n, "out_source"))
        goto done;
    const int64_t *indptr = (const int64_t *)indptr_b.buf;
    const int32_t *head = (const int32_t *)head_b.buf;
    const double *cost = (const double *)cost_b.buf;
    const int32_t *seed_node = (const int32_t *)snode_b.buf;
    const double *seed_cost = (const double *)scost_b.buf;
    const int64_t *seed_source = (const int64_t *)ssrc_b.buf;
    double *dist = (double *)ocost_b.buf;
    int64_t *source = (int64_t *)osrc_b.buf;
    if (indptr[n] != m) {
        PyErr_SetString(PyExc_ValueError, "indptr[-1] must equal the number of arcs");
        goto done;
    }
    for (Py_ssize_t i = 0; i < k; i++) {
        if (seed_node[i] < 0 || seed_node[i] >= n) {
            PyErr_SetString(PyExc_ValueError, "seed_node out of range");
            goto done;
        }
    }
    int failed = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        dist[i] = INFINITY;
        source[i] = -1;
    }
    heap h;
    memset(&h, 0, sizeof h);
    for (Py_ssize_t i = 0; i < k && !failed; i++) {
        double d = seed_cost[i];
        int32_t v = seed_node[i];
        if (d <= limit && d < dist[v]) {
            dist[v] = d;
            source[v] = seed_source[i];
            failed = heap_push(&h, d, v);
        }
    }
    while (h.size && !failed) {
        entry e;
        if (heap_pop(&h, &e)) { failed = 1; break; }
        if (e.key > dist[e.node]) continue; /* stale: the node was settled cheaper */
        int64_t from = source[e.node];
        for (int64_t a = indptr[e.node]; a < indptr[e.node + 1]; a++) {
            int32_t w = head[a];
            double d = e.key + cost[a];
            if (d < dist[w] && d <= limit) {
                dist[w] = d;
                source[w] = from;
                if (heap_push(&h, d, w)) { failed = 1; break; }
            }
        }
    }
    heap_free(&h);
    Py_END_ALLOW_THREADS
    if (failed) {
        PyErr_NoMemory();
        goto done;
    }
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&indptr_b);
    PyBuffer_Release(&head_b);
    PyBuffer_Release(&cost_b);
    PyBuffer_Release(&snode_b);
    PyBuffer_Release(&scost_b);
    PyBuffer_Release(&ssrc_b);
    PyBuffer_Release(&ocost_b);
    PyBuffer_Release(&osrc_b);
    return result;
}

static PyMethodDef methods[] = {
    {"multi_source", multi_source, METH_VARARGS,
     "multi_source(indptr, head, cost, seed_node, seed_cost, seed_source, limit, out_cost, "
     "out_source): one bounded multi-source Dijkstra seeded with initial costs."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_dijkstra",
                                    "Compiled multi-source Dijkstra.", -1, methods};

PyMODINIT_FUNC PyInit__dijkstra(void) { return PyModule_Create(&module); }
