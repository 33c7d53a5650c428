/* meta_properties: the identity of a log dir, in Kafka's own meta.properties format, so that a
 * dir from another cluster or node is refused instead of silently served. An empty or missing dir
 * is formatted on first start: a random cluster id (shared by all dirs of this broker) and a
 * directory id, written to a temp file, fsynced and renamed into place. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker_int.h"

#define META_FILE "meta.properties"
#define META_BYTES_MAX 4096

typedef struct {
    bool present;
    int64_t node_id;
    char cluster_id[64];
} meta_t;

static int mkdir_p(const char *path)
{
    char tmp[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof(tmp))
        return -ENAMETOOLONG;
    memcpy(tmp, path, len + 1);
    for (char *p = tmp + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static bool dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL)
        return true;
    struct dirent *e;
    bool empty = true;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            empty = false;
    closedir(d);
    return empty;
}

static int meta_read(const char *dir, meta_t *meta)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", dir, META_FILE);
    *meta = (meta_t){.node_id = -1};
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return errno == ENOENT ? 0 : -errno;
    char line[512];
    while (fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        char *eq = strchr(line, '=');
        if (eq == NULL)
            continue;
        *eq = '\0';
        if (strcmp(line, "node.id") == 0)
            meta->node_id = strtoll(eq + 1, NULL, 10);
        else if (strcmp(line, "cluster.id") == 0)
            snprintf(meta->cluster_id, sizeof(meta->cluster_id), "%s", eq + 1);
    }
    fclose(f);
    meta->present = true;
    return 0;
}

static int write_all_synced(const char *path, const char *text, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (write(fd, text, len) != (ssize_t)len || fsync(fd) != 0)
        rc = errno ? -errno : -EIO;
    close(fd);
    return rc;
}

static int meta_write(const char *dir, int32_t node_id, const char *cluster_id)
{
    sl_uuid_t dir_id;
    int rc = sl_uuid_random(&dir_id);
    if (rc != 0)
        return rc;
    char dir_id_text[23];
    sl_uuid_to_base64(&dir_id, dir_id_text);
    char text[META_BYTES_MAX];
    int n =
        snprintf(text, sizeof(text),
                 "#\n#Written by sluice\ncluster.id=%s\ndirectory.id=%s\nnode.id=%d\nversion=1\n",
                 cluster_id, dir_id_text, (int)node_id);
    char tmp[4200], path[4200];
    snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, META_FILE);
    snprintf(path, sizeof(path), "%s/%s", dir, META_FILE);
    rc = write_all_synced(tmp, text, (size_t)n);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc == 0) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            if (fsync(dfd) != 0)
                rc = -errno;
            close(dfd);
        }
    }
    return rc;
}

static int open_one(const char *dir, int32_t node_id, char cluster_id[64])
{
    int rc = mkdir_p(dir);
    if (rc != 0) {
        SL_LOG(SL_LOG_ERROR, "broker", "cannot create log dir path=%s error=\"%s\"", dir,
               sl_strerror(rc));
        return rc;
    }
    meta_t meta;
    rc = meta_read(dir, &meta);
    if (rc != 0) {
        SL_LOG(SL_LOG_ERROR, "broker", "cannot read %s/%s error=\"%s\"", dir, META_FILE,
               sl_strerror(rc));
        return rc;
    }
    if (!meta.present) {
        if (!dir_is_empty(dir)) {
            SL_LOG(SL_LOG_ERROR, "broker",
                   "log dir has data but no %s path=%s: refusing to guess its owner", META_FILE,
                   dir);
            return SL_ECORRUPT;
        }
        rc = meta_write(dir, node_id, cluster_id);
        if (rc == 0)
            SL_LOG(SL_LOG_INFO, "broker", "formatted log dir path=%s cluster_id=%s node_id=%d", dir,
                   cluster_id, (int)node_id);
        return rc;
    }
    if (meta.node_id != node_id) {
        SL_LOG(SL_LOG_ERROR, "broker",
               "log dir belongs to another node path=%s dir_node_id=%" PRId64 " node.id=%d", dir,
               meta.node_id, (int)node_id);
        return SL_ECONFIG;
    }
    if (strcmp(meta.cluster_id, cluster_id) != 0) {
        SL_LOG(SL_LOG_ERROR, "broker",
               "log dir belongs to another cluster path=%s dir_cluster_id=%s cluster_id=%s", dir,
               meta.cluster_id, cluster_id);
        return SL_ECONFIG;
    }
    return 0;
}

int sl__log_dirs_open(const sl_config_t *cfg, sl_uuid_t *cluster_id)
{
    SL_ASSERT(cfg->log_dirs_count > 0);
    /* cluster.id (given, or derived from controller.quorum.voters) decides the cluster id, and
     * a dir of another cluster is refused; without it the first dir that already has an
     * identity decides; else a new one. */
    char id_text[64] = "";
    if (cfg->cluster_id != NULL)
        snprintf(id_text, sizeof(id_text), "%s", cfg->cluster_id);
    for (size_t i = 0; i < cfg->log_dirs_count && id_text[0] == '\0'; i++) {
        meta_t meta;
        if (meta_read(cfg->log_dirs[i], &meta) == 0 && meta.present)
            snprintf(id_text, sizeof(id_text), "%s", meta.cluster_id);
    }
    if (id_text[0] == '\0') {
        sl_uuid_t fresh;
        int rc = sl_uuid_random(&fresh);
        if (rc != 0)
            return rc;
        sl_uuid_to_base64(&fresh, id_text);
    }
    for (size_t i = 0; i < cfg->log_dirs_count; i++) {
        int rc = open_one(cfg->log_dirs[i], cfg->node_id, id_text);
        if (rc != 0)
            return rc;
    }
    if (sl_uuid_from_base64(id_text, cluster_id) != 0) {
        SL_LOG(SL_LOG_ERROR, "broker", "cluster.id in meta.properties is not a Kafka id id=%s",
               id_text);
        return SL_ECORRUPT;
    }
    return 0;
}
