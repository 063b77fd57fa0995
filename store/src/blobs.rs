//! Which uploaded executables jobs still need: the leader's blob sweep deletes only those no
//! job names any more.

use crate::{Result, Store};
use sqlx::{MySql, QueryBuilder};
use std::collections::HashSet;
use std::time::Duration;

impl Store {
    /// Those of `digests` (sha256, hex) a job still names: one on the schedule, or one
    /// finished less than `grace` ago (its history stays readable with its executable).
    pub async fn referenced_blobs(
        &self,
        digests: &[String],
        grace: Duration,
    ) -> Result<HashSet<String>> {
        let mut found = HashSet::new();
        for chunk in digests.chunks(500) {
            let mut q: QueryBuilder<MySql> = QueryBuilder::new(
                "SELECT DISTINCT sha256 FROM jobs WHERE \
                 (status <> 'finished' OR updated_at > NOW(6) - INTERVAL ",
            );
            q.push_bind(grace.as_secs_f64())
                .push(" SECOND) AND sha256 IN (");
            let mut list = q.separated(", ");
            for digest in chunk {
                list.push_bind(digest);
            }
            q.push(")");
            let rows: Vec<(String,)> = q.build_query_as().fetch_all(self.pool()).await?;
            found.extend(rows.into_iter().map(|(u,)| u));
        }
        Ok(found)
    }
}
