/* Private to the library: how input files are opened, and the in-memory
 * entry points of the readers.
 *
 * Every reader opens its files with ntk_input_open, which refuses anything
 * but a regular file (a FIFO is opened non-blocking first, so that naming one
 * cannot hang the caller). The *_parse functions do what the public readers
 * do once the file's bytes are in memory; `name` stands for the path in
 * messages. The fuzz targets (fuzz/) call them directly. */
#ifndef NTK_READERS_H
#define NTK_READERS_H

#include "ntkit.h"

#include <stdio.h>
#include <string.h>

/* s[0, len), cut to cap − 1 bytes, into out (NUL-terminated) with control
 * bytes shown as '?': file contents quoted in a message must not break it
 * over lines or send escape sequences to a terminal. Returns out. */
static inline const char *ntk_printable(const char *s, size_t len, char *out, size_t cap)
{
    size_t k = len < cap - 1 ? len : cap - 1;
    for (size_t i = 0; i < k; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    out[k] = '\0';
    return out;
}

/* path opened for reading -> *fp (caller fcloses) and its size in bytes;
 * NTK_ERR_IO naming the path when it cannot be opened or is not a regular
 * file (FIFO, directory, device, socket). */
ntk_status ntk_input_open(const char *path, FILE **fp, size_t *size);

/* The whole of path -> *buf (NUL-terminated; caller frees) and *len, after a
 * memory check for the file plus out_per_byte output bytes per file byte. */
ntk_status ntk_input_read(const char *path, size_t out_per_byte, unsigned char **buf,
                          size_t *len);

/* .npy bytes buf[0, len) -> out, as ntk_npy_read. */
ntk_status ntk_npy_parse(const char *name, const unsigned char *buf, size_t len, ntk_array *out);

/* CSV text[0, len) (text[len] must be '\0') -> X, y, as ntk_load_csv. */
ntk_status ntk_csv_parse(const char *name, const char *text, size_t len, int target_col,
                         ntk_csv_header header, ntk_array *X, ntk_array *y);

/* A CIFAR-10 batch buf[0, len) -> X, y, as ntk_load_cifar10. */
ntk_status ntk_cifar10_parse(const char *name, const unsigned char *buf, size_t len, int pos,
                             int neg, size_t max_n, ntk_array *X, ntk_array *y);

/* MNIST images ib[0, ilen) and labels lb[0, llen) -> X, y, as ntk_load_mnist. */
ntk_status ntk_mnist_parse(const char *images, const unsigned char *ib, size_t ilen,
                           const char *labels, const unsigned char *lb, size_t llen, int pos,
                           int neg, size_t max_n, ntk_array *X, ntk_array *y);

#endif
