//! A small SQL text builder with numbered binds (`$1`, `$2`...), which both PostgreSQL and
//! SQLite accept, for the queries whose access filters are joins and `EXISTS` clauses.

use sea_orm::{DbBackend, Statement, Value};

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
