/* ndbtool put DB FILE...  (each FILE one header blob; "-N" deletes the N-th put)
   ndbtool list DB        (pkgidx and length of each blob, as rpm's rpmpkgList/rpmpkgGet read them) */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rpmpkg.h"
static unsigned char *slurp(const char *path, unsigned int *len) {
    FILE *f = fopen(path, "rb"); if (!f) { perror(path); exit(1); }
    fseek(f, 0, SEEK_END); long n = ftell(f); fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc(n); if (fread(p, 1, n, f) != (size_t)n) exit(1); fclose(f);
    *len = n; return p;
}
int main(int argc, char **argv) {
    rpmpkgdb db; unsigned int idx[256], nput = 0;
    if (argc < 3) return 2;
    int put = !strcmp(argv[1], "put");
    if (rpmpkgOpen(&db, argv[2], put ? O_RDWR | O_CREAT : O_RDONLY, 0644)) return 1;
    if (put) {
        if (rpmpkgLock(db, 1)) return 1;
        for (int i = 3; i < argc; i++) {
            if (argv[i][0] == '-') {
                if (rpmpkgDel(db, idx[atoi(argv[i] + 1)])) return 1;
                continue;
            }
            unsigned int len; unsigned char *blob = slurp(argv[i], &len);
            if (rpmpkgNextPkgIdx(db, &idx[nput])) return 1;
            if (rpmpkgPut(db, idx[nput], blob, len)) return 1;
            nput++; free(blob);
        }
        rpmpkgUnlock(db, 1);
    } else {
        unsigned int *list, n;
        if (rpmpkgLock(db, 0) || rpmpkgVerify(db) || rpmpkgList(db, &list, &n)) return 1;
        for (unsigned int i = 0; i < n; i++) {
            unsigned char *blob; unsigned int len;
            if (rpmpkgGet(db, list[i], &blob, &len)) return 1;
            printf("%u %u\n", list[i], len);
            free(blob);
        }
    }
    rpmpkgClose(db);
    return 0;
}
