/* Replays a fuzz corpus through a libFuzzer target without libFuzzer, so every corpus runs as an
 * ordinary test in every build (including gcc and the sanitizer build). Arguments are files or
 * directories of files. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return -1;
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  /* Exact-size heap copy so the sanitizers catch any read past the input. */
  uint8_t *d = malloc(n > 0 ? (size_t)n : 1);
  if (!d || (n > 0 && fread(d, 1, (size_t)n, f) != (size_t)n)) {
    fclose(f);
    free(d);
    fprintf(stderr, "%s: read error\n", path);
    return -1;
  }
  fclose(f);
  LLVMFuzzerTestOneInput(d, (size_t)n);
  free(d);
  return 0;
}

int main(int argc, char **argv) {
  int files = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      perror(argv[i]);
      return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
      if (run_file(argv[i]) != 0) return 1;
      files++;
      continue;
    }
    DIR *d = opendir(argv[i]);
    struct dirent *e;
    while (d && (e = readdir(d))) {
      if (e->d_name[0] == '.') continue;
      char path[4096];
      snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
      if (run_file(path) != 0) return 1;
      files++;
    }
    if (d) closedir(d);
  }
  printf("replayed %d inputs\n", files);
  return files > 0 ? 0 : 1;
}
