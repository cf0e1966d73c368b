/* A private temporary folder for test programs that write files: made with
 * mkdtemp, removed with everything in it at the end. */
#ifndef NTK_TEST_TMPDIR_H
#define NTK_TEST_TMPDIR_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_dir[64];

/* /tmp/<prefix>_XXXXXX; exits with status 2 when it cannot be made */
static inline void tmpdir_make(const char *prefix)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/%s_XXXXXX", prefix);
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        exit(2);
    }
}

/* g_dir/name, in one of four rotating buffers */
static inline const char *in_dir(const char *name)
{
    static char buf[4][256];
    static int k = 0;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

/* len bytes to path; exits with status 2 on failure */
static inline void write_raw(const char *path, const void *buf, size_t len)
{
    FILE *fp = fopen(path, "wb");
    if (!fp || fwrite(buf, 1, len, fp) != len) {
        perror(path);
        exit(2);
    }
    fclose(fp);
}

static inline void remove_tree(const char *dir)
{
    DIR *dp = opendir(dir);
    char path[4096];
    for (struct dirent *e; dp && (e = readdir(dp));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path) continue;
        if (unlink(path) != 0) remove_tree(path);
    }
    if (dp) closedir(dp);
    rmdir(dir);
}

#endif
