//! A small SQL text builder with numbered binds (`$1`, `$2`...), which both PostgreSQL and
//! SQLite accept, for the queries whose access filters are joins and `EXISTS` clauses.

use sea_orm::{
    DbBackend, EntityTrait, FromQueryResult, IdenStatic, Iterable, QueryResult, Statement, Value,
};

/// SQL text with its bound values.
pub struct Sql {
    backend: DbBackend,
    text: String,
    values: Vec<Value>,
}

impl Sql {
    /// An empty statement for `backend`.
    pub fn new(backend: DbBackend) -> Self {
        Self {
            backend,
            text: String::new(),
            values: Vec::new(),
        }
    }

    /// Appends SQL text.
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `value`.
    pub fn bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.values.push(value.into());
        self.text.push('$');
        self.text.push_str(&self.values.len().to_string());
        self
    }

    /// Appends ` LIMIT $n` for `rows` rows.
    pub fn limit(&mut self, rows: u64) -> &mut Self {
        self.push(" LIMIT ")
            .bind(i64::try_from(rows).unwrap_or(i64::MAX))
    }

    /// Appends `(v1, v2, ...)` bound to `values`; `(NULL)` when empty so `IN` matches nothing.
    pub fn bind_list<V: Into<Value>>(&mut self, values: impl IntoIterator<Item = V>) -> &mut Self {
        self.push("(");
        let mut first = true;
        for value in values {
            if !first {
                self.push(", ");
            }
            first = false;
            self.bind(value);
        }
        if first {
            self.push("NULL");
        }
        self.push(")")
    }

    /// The backend the statement is for.
    pub fn backend(&self) -> DbBackend {
        self.backend
    }

    /// The finished statement.
    pub fn build(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.text, self.values)
    }

    /// Runs a `SELECT COUNT(*) AS n ...` statement and returns `n`.
    pub async fn count<C: sea_orm::ConnectionTrait>(self, db: &C) -> crate::error::ApiResult<i64> {
        Ok(match db.query_one_raw(self.build()).await? {
            Some(row) => row.try_get::<i64>("", "n")?,
            None => 0,
        })
    }
}

/// Appends `, {alias}.{column} AS {prefix}{column}` for every column of entity `E`: the
/// columns of a row joined into another query, named apart from that query's own; read the row
/// back with [`joined`]. `prefix` ends in `__` so that no name clashes with a real column.
pub fn push_columns<E: EntityTrait>(sql: &mut Sql, alias: &str, prefix: &str) {
    for column in E::Column::iter() {
        let name = column.as_str();
        sql.push(&format!(", {alias}.{name} AS {prefix}{name}"));
    }
}

/// The row of a left join a query selected with [`push_columns`] under `prefix`, or `None` when
/// the join found none (its `id` is null).
pub fn joined<M: FromQueryResult>(
    row: &QueryResult,
    prefix: &str,
) -> crate::error::ApiResult<Option<M>> {
    if row.try_get::<Option<i64>>(prefix, "id")?.is_none() {
        return Ok(None);
    }
    Ok(Some(M::from_query_result(row, prefix)?))
}

/// Escapes `%`, `_` and `\` in user text for a `LIKE ... ESCAPE '\'` pattern.
pub fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_binds_in_order() {
        let mut sql = Sql::new(DbBackend::Postgres);
        sql.push("SELECT 1 WHERE a = ")
            .bind(1)
            .push(" AND b IN ")
            .bind_list([2, 3]);
        let stmt = sql.build();
        assert_eq!(stmt.sql, "SELECT 1 WHERE a = $1 AND b IN ($2, $3)");
        assert_eq!(like_escape("50%_a\\"), "50\\%\\_a\\\\");
    }
}
