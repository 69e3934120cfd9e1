//! Writing rows as SQL literals in multi-row `INSERT`s: the fastest way to load a dataset
//! through the same driver on both databases (no parameter limits, one round trip per
//! thousand rows).

use chrono::{DateTime, SecondsFormat};
use sea_orm::ConnectionTrait;

/// Rows per `INSERT` statement.
const ROWS_PER_STATEMENT: usize = 1_000;
/// Bytes of SQL after which a statement is sent even with fewer rows.
const BYTES_PER_STATEMENT: usize = 1 << 20;

/// A text literal: `'it''s'`.
pub fn text(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// A text literal, or `NULL`.
pub fn opt_text(value: Option<&str>) -> String {
    value.map_or_else(|| "NULL".to_owned(), text)
}

/// A number, or `NULL`.
pub fn opt_id(value: Option<i64>) -> String {
    value.map_or_else(|| "NULL".to_owned(), |v| v.to_string())
}

/// A boolean literal both databases read (`TRUE`, `FALSE`).
pub fn boolean(value: bool) -> &'static str {
    if value { "TRUE" } else { "FALSE" }
}

/// The time `secs` seconds after the Unix epoch as a literal, in the text form the gateway's
/// driver writes on SQLite (RFC 3339, `+00:00`), which PostgreSQL reads as a `TIMESTAMPTZ`.
pub fn ts(secs: i64) -> String {
    let at = DateTime::from_timestamp(secs, 0).unwrap_or_default();
    format!("'{}'", at.to_rfc3339_opts(SecondsFormat::AutoSi, false))
}

/// A time literal, or `NULL`.
pub fn opt_ts(secs: Option<i64>) -> String {
    secs.map_or_else(|| "NULL".to_owned(), ts)
}

/// Collects rows of one table and sends them as multi-row `INSERT`s.
pub struct Inserter<'c, C: ConnectionTrait> {
    db: &'c C,
    head: String,
    buf: String,
    pending: usize,
    /// Rows held back until [`Inserter::finish`] (see [`Inserter::after_parents`]).
    held: Option<Vec<String>>,
    /// Rows written so far.
    pub written: u64,
}

impl<'c, C: ConnectionTrait> Inserter<'c, C> {
    /// An inserter into `table (columns)`.
    pub fn new(db: &'c C, table: &str, columns: &str) -> Self {
        Self {
            db,
            head: format!("INSERT INTO {table} ({columns}) VALUES "),
            buf: String::new(),
            pending: 0,
            held: None,
            written: 0,
        }
    }

    /// An inserter whose rows reference rows still being collected by another inserter (a
    /// note's labels, say): it holds them until [`Inserter::finish`], called after the
    /// parents' `finish`, because both databases check references at each statement.
    pub fn after_parents(db: &'c C, table: &str, columns: &str) -> Self {
        Self {
            held: Some(Vec::new()),
            ..Self::new(db, table, columns)
        }
    }

    /// Adds one row, given as its comma-separated literals.
    pub async fn row(&mut self, values: &str) -> anyhow::Result<()> {
        if let Some(held) = &mut self.held {
            held.push(values.to_owned());
            return Ok(());
        }
        if self.pending == 0 {
            self.buf.clear();
            self.buf.push_str(&self.head);
        } else {
            self.buf.push(',');
        }
        self.buf.push('(');
        self.buf.push_str(values);
        self.buf.push(')');
        self.pending += 1;
        if self.pending >= ROWS_PER_STATEMENT || self.buf.len() >= BYTES_PER_STATEMENT {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> anyhow::Result<()> {
        if self.pending == 0 {
            return Ok(());
        }
        self.db.execute_unprepared(&self.buf).await.map_err(|e| {
            let start: String = self.buf.chars().take(300).collect();
            anyhow::anyhow!("{e}: {start}")
        })?;
        self.written += self.pending as u64;
        self.pending = 0;
        Ok(())
    }

    /// Sends what is left; returns how many rows were written in all.
    pub async fn finish(mut self) -> anyhow::Result<u64> {
        if let Some(held) = self.held.take() {
            for values in held {
                self.row(&values).await?;
            }
        }
        self.flush().await?;
        Ok(self.written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_quote_and_format() {
        assert_eq!(text("it's"), "'it''s'");
        assert_eq!(opt_text(None), "NULL");
        assert_eq!(opt_id(Some(3)), "3");
        assert_eq!(ts(1_704_067_200), "'2024-01-01T00:00:00+00:00'");
        assert_eq!(opt_ts(None), "NULL");
    }
}
