//! The invitation email as text: subject, HTML and plain-text bodies, and the accept link.
//! Pure functions, so what a hostile name or message can do to an email is unit-tested here.
//!
//! Nothing rendered here becomes a header except the subject, and the subject is made one line
//! with no control characters, whatever went into it. (The recipient is not rendered at all: the
//! worker passes the invitation's validated bare address to SES as the only destination.)

use chrono::{DateTime, Utc};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::model::InvitationKind;

/// The longest subject we send, in characters (mail clients truncate long ones anyway).
pub const MAX_SUBJECT_CHARS: usize = 150;
/// Names are shown on one line; longer ones are cut.
const MAX_NAME_CHARS: usize = 120;

/// What the email says, gathered by the worker from the invitation and its organization.
#[derive(Debug, Clone)]
pub struct Invite<'a> {
    pub kind: InvitationKind,
    pub org_name: &'a str,
    /// The training flow it invites into (invitations API), if any.
    pub flow_name: Option<&'a str>,
    /// The invitee's display name, if given.
    pub invitee_name: Option<&'a str>,
    /// Who sent it (the creating user's name), if known.
    pub inviter_name: Option<&'a str>,
    /// The inviter's personal message, if any.
    pub message: Option<&'a str>,
    pub accept_url: &'a str,
    pub expires: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// Characters of a secret left as they are in a URL (RFC 3986 unreserved); the rest is
/// percent-encoded, so a secret can never end a query parameter or add one.
const SECRET_IN_URL: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The accept link: `{secret}` in the template replaced by the URL-encoded secret. A template
/// without the placeholder gets the secret as a `secret` query parameter, so the link works.
pub fn accept_url(template: &str, secret: &str) -> String {
    let encoded = utf8_percent_encode(secret, SECRET_IN_URL).to_string();
    if template.contains("{secret}") {
        template.replace("{secret}", &encoded)
    } else {
        let joiner = if template.contains('?') { '&' } else { '?' };
        format!("{template}{joiner}secret={encoded}")
    }
}

/// One line of text: every control or line-separating character becomes a space, runs of
/// whitespace become one space, and it is cut to `max` characters.
pub fn one_line(value: &str, max: usize) -> String {
    let spaced: String = value
        .chars()
        .map(|c| if breaks_line(c) { ' ' } else { c })
        .collect();
    let joined = spaced.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.chars().count() <= max {
        return joined;
    }
    let mut cut: String = joined.chars().take(max.saturating_sub(1)).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

/// Control characters (CR, LF, NUL, DEL, NEL, …) and the Unicode line and paragraph separators.
fn breaks_line(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Multi-line free text (a message): line breaks normalized to `\n`, other controls dropped.
fn paragraph(value: &str) -> String {
    value
        .replace("\r\n", "\n")
        .chars()
        .map(|c| match c {
            '\r' | '\u{2028}' | '\u{2029}' | '\u{85}' => '\n',
            c => c,
        })
        .filter(|&c| c == '\n' || c == '\t' || !c.is_control())
        .collect::<String>()
        .trim()
        .to_owned()
}

pub fn html_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The names and message, cleaned once for every part of the email.
struct Parts {
    org: String,
    flow: Option<String>,
    invitee: Option<String>,
    inviter: Option<String>,
    message: Option<String>,
    expires: String,
}

impl Parts {
    fn of(invite: &Invite) -> Self {
        let name = |n: Option<&str>| {
            n.map(|n| one_line(n, MAX_NAME_CHARS))
                .filter(|n| !n.is_empty())
        };
        Parts {
            org: name(Some(invite.org_name)).unwrap_or_else(|| "Your organization".into()),
            flow: name(invite.flow_name),
            invitee: name(invite.invitee_name),
            inviter: name(invite.inviter_name),
            message: invite.message.map(paragraph).filter(|m| !m.is_empty()),
            expires: invite.expires.format("%Y-%m-%d %H:%M UTC").to_string(),
        }
    }

    /// "Acme invited you to join the flow “Onboarding”." — the sentence of the body.
    fn invitation(&self, kind: InvitationKind) -> String {
        let who = match &self.inviter {
            Some(inviter) => format!("{inviter} ({})", self.org),
            None => self.org.clone(),
        };
        match (kind, &self.flow) {
            (_, Some(flow)) => format!("{who} invited you to the training flow “{flow}”."),
            (InvitationKind::JoinOrganization, None) => format!("{who} invited you to join them."),
            (InvitationKind::Signup, None) => format!("{who} invited you to sign up."),
        }
    }

    fn subject(&self, kind: InvitationKind) -> String {
        let subject = match (kind, &self.flow) {
            (_, Some(flow)) => format!("{} invited you to {flow}", self.org),
            (InvitationKind::JoinOrganization, None) => {
                format!("{} invited you to join them", self.org)
            }
            (InvitationKind::Signup, None) => format!("{} invited you to sign up", self.org),
        };
        // The parts are one line already; this also caps the length.
        one_line(&subject, MAX_SUBJECT_CHARS)
    }

    fn greeting(&self) -> String {
        match &self.invitee {
            Some(name) => format!("Hi {name},"),
            None => "Hello,".to_owned(),
        }
    }
}

pub fn render(invite: &Invite) -> Rendered {
    let parts = Parts::of(invite);
    Rendered {
        subject: parts.subject(invite.kind),
        text: text_body(&parts, invite),
        html: html_body(&parts, invite),
    }
}

fn text_body(parts: &Parts, invite: &Invite) -> String {
    let mut out = format!(
        "{}\n\n{}\n\n",
        parts.greeting(),
        parts.invitation(invite.kind)
    );
    if let Some(message) = &parts.message {
        out.push_str(&format!("Their message:\n\n{message}\n\n"));
    }
    out.push_str(&format!(
        "Accept the invitation:\n{}\n\nThis invitation expires on {}. \
         If you did not expect it, you can ignore this email.\n",
        invite.accept_url, parts.expires
    ));
    out
}

fn html_body(parts: &Parts, invite: &Invite) -> String {
    let e = html_escape;
    let mut out = format!(
        "<p>{}</p>\n<p>{}</p>\n",
        e(&parts.greeting()),
        e(&parts.invitation(invite.kind))
    );
    if let Some(message) = &parts.message {
        let lines: Vec<String> = message.lines().map(e).collect();
        out.push_str(&format!(
            "<p>Their message:</p>\n<blockquote>{}</blockquote>\n",
            lines.join("<br>\n")
        ));
    }
    let url = e(invite.accept_url);
    out.push_str(&format!(
        "<p><a href=\"{url}\">Accept the invitation</a></p>\n\
         <p>Or open this link: {url}</p>\n\
         <p>This invitation expires on {}. If you did not expect it, you can ignore this email.</p>\n",
        e(&parts.expires)
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn invite<'a>() -> Invite<'a> {
        Invite {
            kind: InvitationKind::JoinOrganization,
            org_name: "Acme Inc",
            flow_name: Some("Customer Onboarding"),
            invitee_name: Some("Joe Smith"),
            inviter_name: None,
            message: Some("Welcome aboard!\nSee you Monday."),
            accept_url: "https://app.example.com/accept?secret=inv_1.abc",
            expires: Utc.with_ymd_and_hms(2026, 12, 1, 9, 30, 0).unwrap(),
        }
    }

    #[test]
    fn says_who_what_and_until_when() {
        let r = render(&invite());
        assert_eq!(r.subject, "Acme Inc invited you to Customer Onboarding");
        for body in [&r.text, &r.html] {
            assert!(body.contains("Hi Joe Smith,"), "{body}");
            assert!(body.contains("Customer Onboarding"), "{body}");
            assert!(body.contains("Welcome aboard!"), "{body}");
            assert!(
                body.contains("https://app.example.com/accept?secret=inv_1.abc"),
                "{body}"
            );
            assert!(body.contains("2026-12-01 09:30 UTC"), "{body}");
        }
        assert!(r.html.contains("Welcome aboard!<br>\nSee you Monday."));
    }

    #[test]
    fn kinds_without_a_flow() {
        let join = render(&Invite {
            flow_name: None,
            ..invite()
        });
        assert_eq!(join.subject, "Acme Inc invited you to join them");
        let signup = render(&Invite {
            kind: InvitationKind::Signup,
            flow_name: None,
            invitee_name: None,
            message: None,
            inviter_name: Some("Jane"),
            ..invite()
        });
        assert_eq!(signup.subject, "Acme Inc invited you to sign up");
        assert!(signup
            .text
            .starts_with("Hello,\n\nJane (Acme Inc) invited you to sign up."));
        assert!(!signup.text.contains("message"));
    }

    #[test]
    fn crlf_in_any_name_never_breaks_the_subject_line() {
        let hostile = "Evil\r\nBcc: victim@example.com\r\n\r\nbody";
        let r = render(&Invite {
            org_name: hostile,
            flow_name: Some("Flow\nX-Injected: 1"),
            invitee_name: Some(hostile),
            inviter_name: Some("A\u{2028}B\u{85}C\0D"),
            message: Some(hostile),
            ..invite()
        });
        assert!(
            !r.subject.chars().any(|c| c.is_control()),
            "{:?}",
            r.subject
        );
        assert_eq!(
            r.subject,
            "Evil Bcc: victim@example.com body invited you to Flow X-Injected: 1"
        );
        // Names in the bodies are one line too; the message keeps its (normalized) lines.
        assert!(r
            .text
            .starts_with("Hi Evil Bcc: victim@example.com body,\n"));
        assert!(r.text.contains("A B C D (Evil"));
        assert!(!r.text.contains('\r') && !r.html.contains('\r'));
        assert!(r.text.contains("Evil\nBcc: victim@example.com\n\nbody"));
    }

    #[test]
    fn html_is_escaped() {
        let r = render(&Invite {
            org_name: "<b>Acme</b> & Co",
            invitee_name: Some("\"><script>alert(1)</script>"),
            message: Some("<img src=x onerror=alert(1)>"),
            accept_url: "https://x.example/a?b=1&secret=s\"",
            ..invite()
        });
        assert!(
            !r.html.contains("<script>") && !r.html.contains("<img") && !r.html.contains("<b>")
        );
        assert!(r.html.contains("&lt;b&gt;Acme&lt;/b&gt; &amp; Co"));
        assert!(r
            .html
            .contains("href=\"https://x.example/a?b=1&amp;secret=s&quot;\""));
        // The text body is not HTML: it shows the names as they are.
        assert!(r.text.contains("<b>Acme</b> & Co"));
    }

    #[test]
    fn subjects_are_capped() {
        let long = "x".repeat(400);
        let r = render(&Invite {
            org_name: &long,
            ..invite()
        });
        assert!(r.subject.chars().count() <= MAX_SUBJECT_CHARS);
        assert!(r.subject.ends_with('…'));
    }

    #[test]
    fn accept_urls_encode_the_secret() {
        assert_eq!(
            accept_url("https://a.example/accept?secret={secret}", "inv_1.AbC9"),
            "https://a.example/accept?secret=inv_1.AbC9"
        );
        assert_eq!(
            accept_url("https://a.example/i/{secret}", "a&b=c/d e"),
            "https://a.example/i/a%26b%3Dc%2Fd%20e"
        );
        assert_eq!(
            accept_url("https://a.example/accept", "s.1"),
            "https://a.example/accept?secret=s.1"
        );
        assert_eq!(
            accept_url("https://a.example/accept?x=1", "s.1"),
            "https://a.example/accept?x=1&secret=s.1"
        );
    }

    #[test]
    fn one_line_collapses_and_cuts() {
        assert_eq!(one_line("  a\r\n\tb  ", 10), "a b");
        assert_eq!(one_line("abcdef", 4), "abc…");
        assert_eq!(one_line("\r\n", 4), "");
    }
}
