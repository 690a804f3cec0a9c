/*
 * bench/http_load.c — the HTTP client of bench/predict.py: as light on the
 * shared cores as pgbench is on the PostgreSQL side, so the FastAPI baseline is
 * not bounded by a Python client.  CLIENTS threads, each on one keep-alive
 * connection (TCP_NODELAY) to one of the ports in turn, send GET /predict/SYM
 * for random symbols of the list and read each whole response (Content-Length)
 * until SECONDS have passed; prints the responses per second.
 *
 *   gcc -O2 -pthread -o http_load bench/http_load.c
 *   ./http_load 8001,8002 16 10 B0001 B0002 ...
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int	  nports;
static int	  ports[16];
static int	  nsymbols;
static char **symbols;
static double stop_at;
static long	  done[1024];

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
connect_to(int port)
{
	struct sockaddr_in addr;
	int				   one = 1;
	int				   fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons(port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *) &addr, sizeof(addr)) != 0)
	{
		perror("connect");
		exit(1);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* read one response: headers, then Content-Length bytes of body; 0 on error */
static int
read_response(int fd, char *buf, size_t size)
{
	size_t have = 0;
	char  *end = NULL;
	long   length;
	char  *cl;

	while (end == NULL)
	{
		ssize_t n = read(fd, buf + have, size - 1 - have);

		if (n <= 0)
			return 0;
		have += n;
		buf[have] = '\0';
		end = strstr(buf, "\r\n\r\n");
	}
	cl = strcasestr(buf, "content-length:");
	if (cl == NULL || cl > end)
		return 0;
	length = strtol(cl + 15, NULL, 10);
	while ((long) (have - (end + 4 - buf)) < length)
	{
		ssize_t n = read(fd, buf + have, size - 1 - have);

		if (n <= 0)
			return 0;
		have += n;
	}
	return 1;
}

static void *
client(void *arg)
{
	long		 i = (long) arg;
	unsigned int seed = (unsigned int) (i * 7919 + 1);
	int			 fd = connect_to(ports[i % nports]);
	char		 req[256];
	char		 buf[65536];

	while (now() < stop_at)
	{
		int len = snprintf(req, sizeof(req), "GET /predict/%s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
						   symbols[rand_r(&seed) % nsymbols]);

		if (write(fd, req, len) != len || !read_response(fd, buf, sizeof(buf)))
		{
			fprintf(stderr, "request failed\n");
			exit(1);
		}
		done[i]++;
	}
	close(fd);
	return NULL;
}

int
main(int argc, char **argv)
{
	int		  clients;
	double	  seconds;
	double	  started;
	long	  total = 0;
	pthread_t threads[1024];

	if (argc < 5)
	{
		fprintf(stderr, "usage: http_load PORT[,PORT...] CLIENTS SECONDS SYMBOL...\n");
		return 2;
	}
	for (char *p = strtok(argv[1], ","); p && nports < 16; p = strtok(NULL, ","))
		ports[nports++] = atoi(p);
	clients = atoi(argv[2]);
	seconds = atof(argv[3]);
	symbols = &argv[4];
	nsymbols = argc - 4;
	if (clients < 1 || clients > 1024 || nports == 0)
		return 2;
	started = now();
	stop_at = started + seconds;
	for (long i = 0; i < clients; i++)
		pthread_create(&threads[i], NULL, client, (void *) i);
	for (int i = 0; i < clients; i++)
	{
		pthread_join(threads[i], NULL);
		total += done[i];
	}
	printf("%.1f\n", total / (now() - started));
	return 0;
}
