/* The web dashboard: its files, built from ui/ and embedded at build time
 * (build-aux/embed.sh --bytes), served at /ui/ on the API's listeners, and
 * its session routes /ui/api/login, /ui/api/logout, /ui/api/whoami
 * (docs/dashboard.md; the cookies and the CSRF check are auth.h's). */
#ifndef CASS_UI_H
#define CASS_UI_H

#include <stdbool.h>
#include <stddef.h>

#include "routes.h"

struct cass_ui_file {
    const char *name; /* its path below ui/dist: "index.html", "assets/app-3QXJ5Z7A.js" */
    const char *data; /* size bytes (NULs too) */
    size_t size;
};

/* The embedded files, ending with {NULL}: generated (ui/embedded.c). */
extern const struct cass_ui_file cass_ui_files[];

/* What every /ui answer carries. */
#define CASS_UI_CSP                                                                                \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

/* The media type of a file by its name's extension (static). */
const char *cass_ui_content_type(const char *name);

/* Whether the file's name carries a content hash (esbuild's "name-HASH.ext",
 * the hash 8 or more of [A-Z0-9]): such a file never changes, it is cached
 * for a year; the others (index.html) are revalidated each time. */
bool cass_ui_hashed(const char *name);

/* Whether path is the dashboard's files' (/ui and /ui/..., not /ui/api and
 * below, which are routes). */
bool cass_ui_is_static(const char *path);

/* Answers GET or HEAD of a path for which cass_ui_is_static holds: the
 * file, index.html for a path without an extension (the app's own routes,
 * /ui/runs/ID), a redirect of /ui to /ui/, 404 for a missing file, 405 for
 * another method. 0 with reply filled, or -1 with *err (reply->status). */
int cass_ui_static(struct cass_api_request *req, struct cass_api_reply *reply,
                   struct cass_error **err);

/* The routes, in routes.c's table (arg unused). */
int cass_ui_login(struct cass_api_request *req, const char *arg, struct cass_api_reply *reply,
                  struct cass_error **err);
int cass_ui_logout(struct cass_api_request *req, const char *arg, struct cass_api_reply *reply,
                   struct cass_error **err);
int cass_ui_whoami(struct cass_api_request *req, const char *arg, struct cass_api_reply *reply,
                   struct cass_error **err);

/* Adds the security headers of every /ui answer (CSP, Referrer-Policy). */
int cass_ui_headers(struct cass_api_reply *reply);

#endif
