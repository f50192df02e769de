/* The pod sandbox's first process (the kubelet's "pause" image), for the test cluster:
 * it holds the pod's namespaces, reaps any child that becomes its own (it is PID 1 of the
 * pod when the PID namespace is shared), and exits on SIGINT or SIGTERM. Built static so
 * that the image needs nothing else. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig) {
  (void)sig;
  _exit(0);
}

static void reap(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(int argc, char **argv) {
  if (argc > 1 && (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--version") == 0)) {
    puts("osmosis-pause 1");
    return 0;
  }
  if (getpid() != 1) fprintf(stderr, "pause: not PID 1, still waiting\n");
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = stop;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sa.sa_handler = reap;
  sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
  sigaction(SIGCHLD, &sa, NULL);
  for (;;) pause();
}
