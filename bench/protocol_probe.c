/* bench/protocols.py's probe: read SELECT * FROM <table> with the MariaDB C client library and discard it, through
 * the text protocol (mysql_use_result + mysql_fetch_row, as binlake's full load reads) or the binary protocol (a
 * server-side prepared statement, mysql_stmt_fetch unbuffered, every column bound to its own type, strings to a
 * 64 KiB buffer). It converts nothing: the figure is what each protocol costs the server and the client library.
 *
 * usage: protocol_probe HOST PORT USER DATABASE TABLE text|binary   (the password comes from MYSQL_PWD)
 * prints: rows and the bytes of their values. */
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(MYSQL *mysql, MYSQL_STMT *stmt) {
    fprintf(stderr, "%s\n", stmt ? mysql_stmt_error(stmt) : mysql_error(mysql));
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: %s HOST PORT USER DATABASE TABLE text|binary\n", argv[0]);
        return 2;
    }
    MYSQL *mysql = mysql_init(NULL);
    if (!mysql_real_connect(mysql, argv[1], argv[3], getenv("MYSQL_PWD"), argv[4], (unsigned)atoi(argv[2]), NULL, 0))
        return fail(mysql, NULL);
    char query[512];
    snprintf(query, sizeof query, "SELECT * FROM `%s`", argv[5]);
    long long rows = 0, bytes = 0;
    if (strcmp(argv[6], "text") == 0) {
        if (mysql_query(mysql, query)) return fail(mysql, NULL);
        MYSQL_RES *result = mysql_use_result(mysql);
        if (!result) return fail(mysql, NULL);
        unsigned ncols = mysql_num_fields(result);
        while (mysql_fetch_row(result)) {
            unsigned long *lengths = mysql_fetch_lengths(result);
            for (unsigned i = 0; i < ncols; i++) bytes += (long long)lengths[i];
            rows++;
        }
        if (mysql_errno(mysql)) return fail(mysql, NULL);
        mysql_free_result(result);
    } else {
        MYSQL_STMT *stmt = mysql_stmt_init(mysql);
        if (mysql_stmt_prepare(stmt, query, strlen(query)) || mysql_stmt_execute(stmt)) return fail(mysql, stmt);
        MYSQL_RES *meta = mysql_stmt_result_metadata(stmt);
        unsigned ncols = mysql_num_fields(meta);
        MYSQL_FIELD *fields = mysql_fetch_fields(meta);
        MYSQL_BIND *bind = calloc(ncols, sizeof *bind);
        unsigned long *lengths = calloc(ncols, sizeof *lengths);
        my_bool *nulls = calloc(ncols, sizeof *nulls), *errors = calloc(ncols, sizeof *errors);
        for (unsigned i = 0; i < ncols; i++) {
            enum enum_field_types type = fields[i].type;
            size_t size = 65536;
            if (type == MYSQL_TYPE_TINY || type == MYSQL_TYPE_SHORT || type == MYSQL_TYPE_LONG ||
                type == MYSQL_TYPE_LONGLONG || type == MYSQL_TYPE_INT24 || type == MYSQL_TYPE_FLOAT ||
                type == MYSQL_TYPE_DOUBLE) {
                size = 8;
            } else if (type == MYSQL_TYPE_DATE || type == MYSQL_TYPE_DATETIME || type == MYSQL_TYPE_TIMESTAMP ||
                       type == MYSQL_TYPE_TIME) {
                size = sizeof(MYSQL_TIME);
            } else {
                type = MYSQL_TYPE_STRING;  /* DECIMAL comes as text in the binary protocol too */
            }
            bind[i].buffer_type = type;
            bind[i].buffer = malloc(size);
            bind[i].buffer_length = size;
            bind[i].is_unsigned = (fields[i].flags & UNSIGNED_FLAG) != 0;
            bind[i].length = &lengths[i];
            bind[i].is_null = &nulls[i];
            bind[i].error = &errors[i];
        }
        if (mysql_stmt_bind_result(stmt, bind)) return fail(mysql, stmt);
        int rc;
        while ((rc = mysql_stmt_fetch(stmt)) == 0 || rc == MYSQL_DATA_TRUNCATED) {
            for (unsigned i = 0; i < ncols; i++) bytes += nulls[i] ? 0 : (long long)lengths[i];
            rows++;
        }
        if (rc != MYSQL_NO_DATA) return fail(mysql, stmt);
        mysql_stmt_close(stmt);
    }
    printf("%lld rows, %lld bytes\n", rows, bytes);
    mysql_close(mysql);
    return 0;
}
