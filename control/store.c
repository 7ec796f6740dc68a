/* SPDX-License-Identifier: BSD-3-Clause
 * rtr-controld's embedded store: one SQLite file. Node settings, apps
 * (certificates encrypted at rest with the node master key, AES-256-GCM,
 * each record bound to its row as AAD) and plaintext members, so either
 * process may restart without losing a member.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/crypto.h>

#include "controld.h"
#include "noise.h"

static const char schema[] =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=FULL;"
	"CREATE TABLE IF NOT EXISTS node(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS apps("
	" app_id TEXT PRIMARY KEY, app_index INTEGER UNIQUE NOT NULL,"
	" name TEXT NOT NULL, cert1 BLOB NOT NULL, cert2 BLOB,"
	" enc INTEGER NOT NULL, enabled INTEGER NOT NULL,"
	" max_channels INTEGER NOT NULL, max_members INTEGER NOT NULL,"
	" fps INTEGER NOT NULL, bps INTEGER NOT NULL, egress INTEGER NOT NULL,"
	" max_lifetime INTEGER NOT NULL, regions TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS members("
	" handle INTEGER PRIMARY KEY, member_id INTEGER NOT NULL,"
	" app_index INTEGER NOT NULL, channel_hash INTEGER NOT NULL,"
	" channel TEXT NOT NULL, uid INTEGER NOT NULL, role INTEGER NOT NULL,"
	" state INTEGER NOT NULL, uid_bound INTEGER NOT NULL, privs INTEGER NOT NULL,"
	" ep BLOB NOT NULL, token_expire INTEGER NOT NULL, priv_expire BLOB NOT NULL,"
	" path_token INTEGER NOT NULL, join_ms INTEGER NOT NULL,"
	" suite INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX IF NOT EXISTS members_chan ON members(app_index, channel_hash);"
	"CREATE TABLE IF NOT EXISTS acl(id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" app_index INTEGER NOT NULL, action TEXT NOT NULL, prefix TEXT NOT NULL);";

/* ------------------------------------------------------------------ */
/* master key and certificate sealing                                  */

static int
load_master_key(struct ctld *d)
{
	struct stat st;
	int fd = open(d->key_path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT) {
		/* first start: a new key, created exclusively, the service user's alone */
		fd = open(d->key_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0)
			return -errno;
		if (RAND_bytes(d->master_key, sizeof(d->master_key)) != 1 ||
		    write(fd, d->master_key, sizeof(d->master_key)) != sizeof(d->master_key) ||
		    fsync(fd) < 0) {
			close(fd);
			unlink(d->key_path);
			return -EIO;
		}
		close(fd);
		return 0;
	}
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 0077) != 0 ||
	    st.st_size != sizeof(d->master_key)) {
		close(fd);
		return -EPERM;
	}
	if (read(fd, d->master_key, sizeof(d->master_key)) != sizeof(d->master_key)) {
		close(fd);
		return -EIO;
	}
	close(fd);
	return 0;
}

/* blob = nonce(12) || ciphertext || tag(16); AAD names the row and field */
static int
seal(const struct ctld *d, const char *aad, const char *pt, uint8_t *out, int *outlen)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0, m = 0, ok;
	int len = (int)strlen(pt);

	if (c == NULL || RAND_bytes(out, 12) != 1) {
		EVP_CIPHER_CTX_free(c);
		return -EIO;
	}
	ok = EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, d->master_key, out) == 1 &&
	     EVP_EncryptUpdate(c, NULL, &n, (const uint8_t *)aad, (int)strlen(aad)) == 1 &&
	     EVP_EncryptUpdate(c, out + 12, &n, (const uint8_t *)pt, len) == 1 &&
	     EVP_EncryptFinal_ex(c, out + 12 + n, &m) == 1 &&
	     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, out + 12 + n + m) == 1;
	EVP_CIPHER_CTX_free(c);
	*outlen = 12 + n + m + 16;
	return ok ? 0 : -EIO;
}

static int
unseal(const struct ctld *d, const char *aad, const uint8_t *in, int inlen, char *pt,
       size_t ptlen)
{
	EVP_CIPHER_CTX *c;
	int n = 0, m = 0, ok, clen = inlen - 28;

	if (clen <= 0 || (size_t)clen >= ptlen)
		return -EBADMSG;
	c = EVP_CIPHER_CTX_new();
	if (c == NULL)
		return -ENOMEM;
	ok = EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, d->master_key, in) == 1 &&
	     EVP_DecryptUpdate(c, NULL, &n, (const uint8_t *)aad, (int)strlen(aad)) == 1 &&
	     EVP_DecryptUpdate(c, (uint8_t *)pt, &n, in + 12, clen) == 1 &&
	     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, (void *)(in + 12 + clen)) == 1 &&
	     EVP_DecryptFinal_ex(c, (uint8_t *)pt + n, &m) == 1;
	EVP_CIPHER_CTX_free(c);
	if (!ok) {
		OPENSSL_cleanse(pt, ptlen);
		return -EBADMSG;	/* wrong key, or the row was tampered with */
	}
	pt[n + m] = '\0';
	return 0;
}

/* ------------------------------------------------------------------ */

static int
exec(struct ctld *d, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(d->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		ctld_log(d, "store: %s", err ? err : "error");
		sqlite3_free(err);
		return -EIO;
	}
	return 0;
}

int
ctld_store_node_get(struct ctld *d, const char *key, char *val, size_t len)
{
	sqlite3_stmt *st;
	int rc = -ENOENT;

	if (sqlite3_prepare_v2(d->db, "SELECT value FROM node WHERE key=?", -1, &st, NULL))
		return -EIO;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(val, len, "%s", (const char *)sqlite3_column_text(st, 0));
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

int
ctld_store_node_set(struct ctld *d, const char *key, const char *val)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(d->db, "INSERT OR REPLACE INTO node(key, value) VALUES(?, ?)",
			       -1, &st, NULL))
		return -EIO;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, val, -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(st);
	return rc;
}

static void
hex(const uint8_t *b, size_t n, char *out)
{
	static const char x[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = x[b[i] >> 4];
		out[2 * i + 1] = x[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
unhex(const char *s, uint8_t *b, size_t n)
{
	size_t i;

	if (strlen(s) != 2 * n)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		unsigned int v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -EINVAL;
		b[i] = (uint8_t)v;
	}
	return 0;
}

/* A node secret: created once, kept sealed in the store. */
int
ctld_store_secret(struct ctld *d, const char *key, uint8_t *out, size_t len)
{
	char buf[256], aad[64];
	uint8_t blob[128];
	int n, rc;

	snprintf(aad, sizeof(aad), "rtrelay-node:%s", key);
	if (ctld_store_node_get(d, key, buf, sizeof(buf)) == 0) {
		char pt[130];

		n = (int)strlen(buf) / 2;
		if (n > (int)sizeof(blob) || unhex(buf, blob, (size_t)n) < 0)
			return -EBADMSG;
		rc = unseal(d, aad, blob, n, pt, sizeof(pt));
		if (rc == 0)
			rc = unhex(pt, out, len);
		OPENSSL_cleanse(pt, sizeof(pt));
		return rc;
	}
	{
		char pt[130];

		if (RAND_bytes(out, (int)len) != 1)
			return -EIO;
		hex(out, len, pt);
		rc = seal(d, aad, pt, blob, &n);
		OPENSSL_cleanse(pt, sizeof(pt));
		if (rc < 0)
			return rc;
		hex(blob, (size_t)n, buf);
		return ctld_store_node_set(d, key, buf);
	}
}

int
ctld_store_open(struct ctld *d)
{
	int rc;

	rc = load_master_key(d);
	if (rc < 0) {
		ctld_log(d, "master key %s: %s", d->key_path,
			 rc == -EPERM ? "must be 32 bytes, ours, mode 0600" : strerror(-rc));
		return rc;
	}
	if (sqlite3_open_v2(d->db_path, &d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			    SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		ctld_log(d, "store %s: %s", d->db_path, sqlite3_errmsg(d->db));
		return -EIO;
	}
	chmod(d->db_path, 0600);
	sqlite3_busy_timeout(d->db, 2000);
	rc = exec(d, schema);
	if (rc == 0) {
		/* stores made before encryption: members gain their suite */
		sqlite3_stmt *st;
		int has = 0;

		if (sqlite3_prepare_v2(d->db, "SELECT COUNT(*) FROM pragma_table_info('members')"
				       " WHERE name='suite'", -1, &st, NULL) == SQLITE_OK) {
			if (sqlite3_step(st) == SQLITE_ROW)
				has = sqlite3_column_int(st, 0);
			sqlite3_finalize(st);
		}
		if (!has)
			rc = exec(d, "ALTER TABLE members ADD COLUMN suite INTEGER NOT NULL DEFAULT 0;");
	}
	if (rc == 0)
		rc = ctld_store_secret(d, "channel_secret", d->chan_secret, sizeof(d->chan_secret));
	if (rc == 0)
		rc = ctld_store_secret(d, "log_key", d->log_key, sizeof(d->log_key));
	/* the node's static key pair: created at first start, kept sealed; clients
	 * are given its public half (rtrctl node show) */
	if (rc == 0)
		rc = ctld_store_secret(d, "node_static_key", d->node_priv, sizeof(d->node_priv));
	if (rc == 0)
		rc = rtr_noise_pubkey(d->node_priv, d->node_pub);
	if (rc == 0 && ctld_store_node_get(d, "region", d->region, sizeof(d->region)) < 0 &&
	    d->region[0])
		rc = ctld_store_node_set(d, "region", d->region);
	return rc;
}

void
ctld_store_close(struct ctld *d)
{
	if (d->db != NULL)
		sqlite3_close(d->db);
	d->db = NULL;
	OPENSSL_cleanse(d->master_key, sizeof(d->master_key));
	OPENSSL_cleanse(d->chan_secret, sizeof(d->chan_secret));
	OPENSSL_cleanse(d->log_key, sizeof(d->log_key));
	OPENSSL_cleanse(d->node_priv, sizeof(d->node_priv));
}

static void
cert_aad(char *aad, size_t len, const char *app_id, int which)
{
	snprintf(aad, len, "rtrelay-cert:%s:%d", app_id, which);
}

int
ctld_store_load_apps(struct ctld *d)
{
	sqlite3_stmt *st;
	int rc = 0;

	if (sqlite3_prepare_v2(d->db,
			       "SELECT app_id, app_index, name, cert1, cert2, enc, enabled,"
			       " max_channels, max_members, fps, bps, egress, max_lifetime, regions"
			       " FROM apps", -1, &st, NULL))
		return -EIO;
	while (sqlite3_step(st) == SQLITE_ROW) {
		uint32_t idx = (uint32_t)sqlite3_column_int64(st, 1);
		struct ctld_app *a;
		char aad[96];
		int k;

		if (idx == 0 || idx >= CTLD_MAX_APPS) {
			rc = -EBADMSG;
			continue;
		}
		a = &d->apps[idx];
		memset(a, 0, sizeof(*a));
		snprintf(a->app_id, sizeof(a->app_id), "%s", sqlite3_column_text(st, 0));
		a->app_index = idx;
		snprintf(a->name, sizeof(a->name), "%s", sqlite3_column_text(st, 2));
		for (k = 0; k < 2; k++) {
			const uint8_t *blob = sqlite3_column_blob(st, 3 + k);
			int n = sqlite3_column_bytes(st, 3 + k);

			if (blob == NULL || n == 0)
				continue;
			cert_aad(aad, sizeof(aad), a->app_id, k);
			if (unseal(d, aad, blob, n, a->cert[k], sizeof(a->cert[k])) < 0) {
				ctld_log(d, "app %u: certificate %d does not decrypt (wrong master key "
					 "or tampered row)%s", idx, k + 1,
					 k == 0 ? ": app disabled" : ": not used");
				a->cert[k][0] = '\0';
				rc = -EBADMSG;
			}
		}
		a->enc = (enum ctld_enc)sqlite3_column_int(st, 5);
		a->enabled = sqlite3_column_int(st, 6) && a->cert[0][0];
		a->max_channels = (uint32_t)sqlite3_column_int64(st, 7);
		a->max_members = (uint32_t)sqlite3_column_int64(st, 8);
		a->fps = (uint32_t)sqlite3_column_int64(st, 9);
		a->bps = (uint64_t)sqlite3_column_int64(st, 10);
		a->egress = (uint64_t)sqlite3_column_int64(st, 11);
		a->max_lifetime = (uint32_t)sqlite3_column_int64(st, 12);
		snprintf(a->regions, sizeof(a->regions), "%s", sqlite3_column_text(st, 13));
		a->in_use = true;
	}
	sqlite3_finalize(st);
	return rc;
}

int
ctld_store_put_app(struct ctld *d, const struct ctld_app *a)
{
	uint8_t blob[2][96];
	int n[2] = { 0, 0 }, k, rc;
	sqlite3_stmt *st;
	char aad[96];

	for (k = 0; k < 2; k++) {
		if (!a->cert[k][0])
			continue;
		cert_aad(aad, sizeof(aad), a->app_id, k);
		rc = seal(d, aad, a->cert[k], blob[k], &n[k]);
		if (rc < 0)
			return rc;
	}
	if (sqlite3_prepare_v2(d->db,
			       "INSERT OR REPLACE INTO apps(app_id, app_index, name, cert1, cert2,"
			       " enc, enabled, max_channels, max_members, fps, bps, egress,"
			       " max_lifetime, regions) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
			       -1, &st, NULL))
		return -EIO;
	sqlite3_bind_text(st, 1, a->app_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, a->app_index);
	sqlite3_bind_text(st, 3, a->name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, blob[0], n[0], SQLITE_STATIC);
	if (n[1])
		sqlite3_bind_blob(st, 5, blob[1], n[1], SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 5);
	sqlite3_bind_int(st, 6, a->enc);
	sqlite3_bind_int(st, 7, a->enabled);
	sqlite3_bind_int64(st, 8, a->max_channels);
	sqlite3_bind_int64(st, 9, a->max_members);
	sqlite3_bind_int64(st, 10, a->fps);
	sqlite3_bind_int64(st, 11, (int64_t)a->bps);
	sqlite3_bind_int64(st, 12, (int64_t)a->egress);
	sqlite3_bind_int64(st, 13, a->max_lifetime);
	sqlite3_bind_text(st, 14, a->regions, -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(st);
	return rc;
}

int
ctld_store_del_app(struct ctld *d, uint32_t app_index)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(d->db, "DELETE FROM apps WHERE app_index=?", -1, &st, NULL))
		return -EIO;
	sqlite3_bind_int64(st, 1, app_index);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(st);
	/* nothing of the app stays behind for the next app with its index:
	 * members, isolation rules, bans, JOIN replay records */
	if (rc == 0 && sqlite3_prepare_v2(d->db, "DELETE FROM members WHERE app_index=?1;", -1,
					  &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, app_index);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
		sqlite3_finalize(st);
	}
	if (rc == 0 && sqlite3_prepare_v2(d->db, "DELETE FROM acl WHERE app_index=?1", -1, &st,
					  NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, app_index);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
		sqlite3_finalize(st);
	}
	if (rc == 0 && sqlite3_prepare_v2(d->db, "DELETE FROM node WHERE key LIKE 'ban:' || ?1 ||"
					  " ':%' OR key LIKE 'lastjoin:' || ?1 || ':%'", -1, &st,
					  NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, app_index);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
		sqlite3_finalize(st);
	}
	if (rc == 0)
		rc = ctld_store_load_acls(d);
	return rc;
}

/* ------------------------------------------------------------------ */
/* members                                                             */

#define MEMBER_COLS "handle, member_id, app_index, channel_hash, channel, uid, role, state," \
		    " uid_bound, privs, ep, token_expire, priv_expire, path_token, join_ms, suite"

static void
row_member(sqlite3_stmt *st, struct ctld_member *m)
{
	const void *b;

	memset(m, 0, sizeof(*m));
	m->handle = (uint64_t)sqlite3_column_int64(st, 0);
	m->member_id = (uint32_t)sqlite3_column_int64(st, 1);
	m->app_index = (uint32_t)sqlite3_column_int64(st, 2);
	m->channel_hash = (uint64_t)sqlite3_column_int64(st, 3);
	snprintf(m->channel, sizeof(m->channel), "%s", sqlite3_column_text(st, 4));
	m->uid = (uint32_t)sqlite3_column_int64(st, 5);
	m->role = (uint8_t)sqlite3_column_int(st, 6);
	m->state = (uint8_t)sqlite3_column_int(st, 7);
	m->uid_bound = (uint8_t)sqlite3_column_int(st, 8);
	m->privs = (uint32_t)sqlite3_column_int64(st, 9);
	b = sqlite3_column_blob(st, 10);
	if (b != NULL && sqlite3_column_bytes(st, 10) == sizeof(m->ep))
		memcpy(&m->ep, b, sizeof(m->ep));
	m->token_expire = (uint64_t)sqlite3_column_int64(st, 11);
	b = sqlite3_column_blob(st, 12);
	if (b != NULL && sqlite3_column_bytes(st, 12) == sizeof(m->priv_expire))
		memcpy(m->priv_expire, b, sizeof(m->priv_expire));
	m->path_token = (uint64_t)sqlite3_column_int64(st, 13);
	m->join_ms = (uint64_t)sqlite3_column_int64(st, 14);
	m->suite = (uint8_t)sqlite3_column_int(st, 15);
}

int
ctld_store_put_member(struct ctld *d, const struct ctld_member *m)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(d->db, "INSERT OR REPLACE INTO members(" MEMBER_COLS ")"
			       " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", -1, &st, NULL))
		return -EIO;
	sqlite3_bind_int64(st, 1, (int64_t)m->handle);
	sqlite3_bind_int64(st, 2, m->member_id);
	sqlite3_bind_int64(st, 3, m->app_index);
	sqlite3_bind_int64(st, 4, (int64_t)m->channel_hash);
	sqlite3_bind_text(st, 5, m->channel, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, m->uid);
	sqlite3_bind_int(st, 7, m->role);
	sqlite3_bind_int(st, 8, m->state);
	sqlite3_bind_int(st, 9, m->uid_bound);
	sqlite3_bind_int64(st, 10, m->privs);
	sqlite3_bind_blob(st, 11, &m->ep, sizeof(m->ep), SQLITE_STATIC);
	sqlite3_bind_int64(st, 12, (int64_t)m->token_expire);
	sqlite3_bind_blob(st, 13, m->priv_expire, sizeof(m->priv_expire), SQLITE_STATIC);
	sqlite3_bind_int64(st, 14, (int64_t)m->path_token);
	sqlite3_bind_int64(st, 15, (int64_t)m->join_ms);
	sqlite3_bind_int(st, 16, m->suite);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(st);
	return rc;
}

int
ctld_store_del_member(struct ctld *d, uint64_t handle)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(d->db, "DELETE FROM members WHERE handle=?", -1, &st, NULL))
		return -EIO;
	sqlite3_bind_int64(st, 1, (int64_t)handle);
	rc = sqlite3_step(st) == SQLITE_DONE ? (sqlite3_changes(d->db) ? 0 : -ENOENT) : -EIO;
	sqlite3_finalize(st);
	/* whatever removed it: its session key goes with it */
	ctld_sess_del(d, handle);
	return rc;
}

int
ctld_store_set_member_state(struct ctld *d, uint64_t handle, uint8_t state)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(d->db, "UPDATE members SET state=? WHERE handle=?", -1, &st,
			       NULL))
		return -EIO;
	sqlite3_bind_int(st, 1, state);
	sqlite3_bind_int64(st, 2, (int64_t)handle);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(st);
	return rc;
}

static int
one_member(struct ctld *d, const char *sql, int64_t a, int64_t b, int64_t c,
	   struct ctld_member *out)
{
	sqlite3_stmt *st;
	int rc = -ENOENT;

	if (sqlite3_prepare_v2(d->db, sql, -1, &st, NULL))
		return -EIO;
	sqlite3_bind_int64(st, 1, a);
	sqlite3_bind_int64(st, 2, b);
	sqlite3_bind_int64(st, 3, c);
	if (sqlite3_step(st) == SQLITE_ROW) {
		row_member(st, out);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

int
ctld_store_find_member(struct ctld *d, uint32_t app_index, uint64_t channel_hash, uint32_t uid,
		       struct ctld_member *out)
{
	return one_member(d, "SELECT " MEMBER_COLS " FROM members WHERE app_index=? AND"
			  " channel_hash=? AND uid=?", app_index, (int64_t)channel_hash, uid, out);
}

int
ctld_store_get_member(struct ctld *d, uint64_t handle, struct ctld_member *out)
{
	return one_member(d, "SELECT " MEMBER_COLS " FROM members WHERE handle=? AND ?=? ",
			  (int64_t)handle, 0, 0, out);
}

int
ctld_store_count(struct ctld *d, const char *sql, int64_t a, int64_t b)
{
	sqlite3_stmt *st;
	int n = -EIO;

	if (sqlite3_prepare_v2(d->db, sql, -1, &st, NULL))
		return -EIO;
	sqlite3_bind_int64(st, 1, a);
	sqlite3_bind_int64(st, 2, b);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* Call fn for each member matching `where` (with ?1 = a, ?2 = b), or all. */
int
ctld_store_each_member(struct ctld *d, const char *where, int64_t a, int64_t b,
		       ctld_member_fn fn, void *arg)
{
	char sql[512];
	sqlite3_stmt *st;
	struct ctld_member m;
	int rc = 0, n = 0;

	snprintf(sql, sizeof(sql), "SELECT " MEMBER_COLS " FROM members%s%s ORDER BY handle",
		 where ? " WHERE " : "", where ? where : "");
	if (sqlite3_prepare_v2(d->db, sql, -1, &st, NULL))
		return -EIO;
	if (where != NULL) {
		sqlite3_bind_int64(st, 1, a);
		if (sqlite3_bind_parameter_count(st) > 1)
			sqlite3_bind_int64(st, 2, b);
	}
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		row_member(st, &m);
		rc = fn(d, &m, arg);
		n++;
	}
	sqlite3_finalize(st);
	return rc < 0 ? rc : n;
}

int
ctld_store_channel_name(struct ctld *d, uint32_t app_index, uint64_t channel_hash, char *name,
			size_t len)
{
	sqlite3_stmt *st;
	int rc = -ENOENT;

	if (sqlite3_prepare_v2(d->db, "SELECT channel FROM members WHERE app_index=? AND"
			       " channel_hash=? LIMIT 1", -1, &st, NULL))
		return -EIO;
	sqlite3_bind_int64(st, 1, app_index);
	sqlite3_bind_int64(st, 2, (int64_t)channel_hash);
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(name, len, "%s", sqlite3_column_text(st, 0));
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

/* ------------------------------------------------------------------ */
/* isolation rules                                                     */

int
ctld_acl_parse(const char *prefix, struct ctld_acl *a)
{
	char buf[64], *slash;
	long plen;
	int maxlen;

	if (strlen(prefix) >= sizeof(buf))
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", prefix);
	slash = strchr(buf, '/');
	if (slash != NULL)
		*slash = '\0';
	memset(a->addr, 0, sizeof(a->addr));
	if (inet_pton(AF_INET, buf, a->addr) == 1)
		a->family = 4;
	else if (inet_pton(AF_INET6, buf, a->addr) == 1)
		a->family = 6;
	else
		return -EINVAL;
	maxlen = a->family == 4 ? 32 : 128;
	plen = maxlen;
	if (slash != NULL) {
		char *end;

		plen = strtol(slash + 1, &end, 10);
		if (*end || slash[1] == '\0' || plen < 0 || plen > maxlen)
			return -EINVAL;
	}
	a->plen = (uint8_t)plen;
	snprintf(a->text, sizeof(a->text), "%s", prefix);
	return 0;
}

static int
prefix_match(const struct ctld_acl *a, uint8_t family, const uint8_t *ip)
{
	unsigned int full = a->plen / 8, rest = a->plen % 8;

	if (a->family != family || memcmp(a->addr, ip, full) != 0)
		return 0;
	return rest == 0 || ((a->addr[full] ^ ip[full]) & (0xff00 >> rest) & 0xff) == 0;
}

/* Deny wins; if any allow rule of the source's family applies (global or
 * this app's), the source must match one of them. The families do not
 * affect each other. */
int
ctld_acl_allows(const struct ctld *d, uint32_t app_index, uint8_t family, const uint8_t *ip)
{
	int have_allow = 0, allowed = 0;
	unsigned int i;

	for (i = 0; i < d->n_acls; i++) {
		const struct ctld_acl *a = &d->acls[i];

		if ((a->app_index != 0 && a->app_index != app_index) || a->family != family)
			continue;
		if (!a->allow && prefix_match(a, family, ip))
			return 0;
		if (a->allow) {
			have_allow = 1;
			allowed |= prefix_match(a, family, ip);
		}
	}
	return !have_allow || allowed;
}

int
ctld_store_load_acls(struct ctld *d)
{
	sqlite3_stmt *st;

	ctld_xdp_rules_changed(d);
	ctld_guard_rules_changed(d);
	d->n_acls = 0;
	if (sqlite3_prepare_v2(d->db, "SELECT id, app_index, action, prefix FROM acl ORDER BY id",
			       -1, &st, NULL))
		return -EIO;
	while (sqlite3_step(st) == SQLITE_ROW && d->n_acls < CTLD_MAX_ACLS) {
		struct ctld_acl *a = &d->acls[d->n_acls];

		if (ctld_acl_parse((const char *)sqlite3_column_text(st, 3), a) < 0)
			continue;
		a->id = (uint32_t)sqlite3_column_int64(st, 0);
		a->app_index = (uint32_t)sqlite3_column_int64(st, 1);
		a->allow = strcmp((const char *)sqlite3_column_text(st, 2), "allow") == 0;
		d->n_acls++;
	}
	sqlite3_finalize(st);
	return 0;
}

int
ctld_store_add_acl(struct ctld *d, struct ctld_acl *a)
{
	sqlite3_stmt *st;
	int rc;

	if (d->n_acls == CTLD_MAX_ACLS)
		return -ENOSPC;
	if (sqlite3_prepare_v2(d->db, "INSERT INTO acl(app_index, action, prefix) VALUES(?,?,?)",
			       -1, &st, NULL))
		return -EIO;
	sqlite3_bind_int64(st, 1, a->app_index);
	sqlite3_bind_text(st, 2, a->allow ? "allow" : "deny", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, a->text, -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(st);
	if (rc == 0) {
		a->id = (uint32_t)sqlite3_last_insert_rowid(d->db);
		d->acls[d->n_acls++] = *a;
		ctld_xdp_rules_changed(d);
		ctld_guard_rules_changed(d);
	}
	return rc;
}

int
ctld_store_del_acl(struct ctld *d, uint32_t id)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(d->db, "DELETE FROM acl WHERE id=?", -1, &st, NULL))
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st) == SQLITE_DONE ? (sqlite3_changes(d->db) ? 0 : -ENOENT) : -EIO;
	sqlite3_finalize(st);
	return rc < 0 ? rc : ctld_store_load_acls(d);
}
