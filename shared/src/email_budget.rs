//! Each organization's daily email budget: the invitation emails it may cause in a UTC day, set
//! per tier by the operator (template.yaml's `EmailDailyBudgetStandard` and
//! `EmailDailyBudgetEnterprise`). Every email the stack sends goes out from the operator's one
//! SES identity and quota; the budget keeps any one tenant from spending it. It is charged by
//! the request that causes the email, in the same write as the invitation (an import charges
//! its emails at once, before writing them), so a spent budget is a clear 429 to the caller,
//! never mail that silently waits (docs/bench/capacity.md, "Tenants").

use chrono::{DateTime, Duration, Utc};

use crate::{
    config::Config,
    model::{EmailCharge, Tier},
};

/// What `count` emails of `org_id`'s would be charged now; `None` when its tier has no budget.
pub fn charge(
    config: &Config,
    org_id: &str,
    tier: Tier,
    count: u64,
    now: DateTime<Utc>,
) -> Option<EmailCharge> {
    let limit = match tier {
        Tier::Standard => config.email_budgets.standard,
        Tier::Enterprise => config.email_budgets.enterprise,
    }?;
    let tomorrow = (now.date_naive() + Duration::days(1))
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or(now);
    Some(EmailCharge {
        org_id: org_id.to_owned(),
        day: now.format("%Y-%m-%d").to_string(),
        count,
        limit,
        renews_in: (tomorrow - now).num_seconds().max(1) as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EmailBudgets;
    use chrono::TimeZone;

    fn config(standard: Option<u64>, enterprise: Option<u64>) -> Config {
        Config {
            table_name: "t".into(),
            app_secret_id: "s".into(),
            public_base_url: None,
            allow_private_targets: false,
            accept_url_hosts: Vec::new(),
            email_budgets: EmailBudgets {
                standard,
                enterprise,
            },
        }
    }

    #[test]
    fn a_charge_is_per_tier_and_utc_day() {
        let now = Utc.with_ymd_and_hms(2026, 12, 7, 23, 59, 30).unwrap();
        let c = config(Some(100), Some(1000));
        let standard = charge(&c, "org_1", Tier::Standard, 3, now).unwrap();
        assert_eq!(
            (standard.day.as_str(), standard.limit, standard.renews_in),
            ("2026-12-07", 100, 30)
        );
        assert_eq!(
            charge(&c, "org_1", Tier::Enterprise, 3, now).unwrap().limit,
            1000
        );
        assert_eq!(
            charge(&config(None, Some(5)), "o", Tier::Standard, 1, now),
            None
        );
        let err = standard.exceeded();
        assert_eq!(err.status(), 429);
        assert!(err.to_string().contains("daily budget of 100"), "{err}");
    }
}
