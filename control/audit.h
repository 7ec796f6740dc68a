/* SPDX-License-Identifier: BSD-3-Clause
 * rtr-controld's tamper-evident audit log (audit.c).
 */
#ifndef RTR_AUDIT_H
#define RTR_AUDIT_H

#include <jansson.h>

struct ctld;

int ctld_audit_open(struct ctld *d);
void ctld_audit_close(struct ctld *d);
/* One line: who (uid -1: the daemon itself), what, with which arguments
 * (secrets masked), and the result. */
void ctld_audit(struct ctld *d, int uid, int pid, const char *cmd, json_t *args,
		const char *result);
void ctld_audit_join_refused(struct ctld *d, int code);
void ctld_audit_api_limited(struct ctld *d);
void ctld_audit_flush(struct ctld *d, int force);
json_t *ctld_audit_tail(struct ctld *d, unsigned int n);
json_t *ctld_audit_verify(struct ctld *d);

#endif /* RTR_AUDIT_H */
