#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "cfg.h"
#include "engine.h"
#include "store.h"

const char *cass_daemon_config_str(const struct cass_daemon *d, const char *path)
{
    return json_string_value(cass_cfg_get(d->config, path));
}

json_int_t cass_daemon_config_int(const struct cass_daemon *d, const char *path)
{
    json_t *v = cass_cfg_get(d->config, path);
    return json_is_integer(v) ? json_integer_value(v) : 0;
}

struct cass_engine *cass_daemon_engine(struct cass_daemon *d, struct cass_error **err)
{
    pthread_mutex_lock(&d->engine_lock);
    struct cass_engine *e = d->engine;
    if (!e) {
        struct cass_error *cerr = NULL;
        e = cass_engine_new(cass_daemon_config_str(d, "dockerHost"), &cerr);
        free(d->engine_error);
        d->engine_error = NULL;
        if (e)
            d->engine = e;
        else {
            d->engine_error = strdup(cerr && cerr->message ? cerr->message : "unreachable");
            cass_error_merge(err, &cerr);
        }
    }
    pthread_mutex_unlock(&d->engine_lock);
    return e;
}

void cass_daemon_free(struct cass_daemon *d)
{
    if (!d)
        return;
    cass_engine_free(d->engine);
    cass_store_close(d->store);
    json_decref(d->config);
    free(d->engine_error);
    pthread_mutex_destroy(&d->engine_lock);
    free(d);
}
