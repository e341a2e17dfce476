//! HF post-processors (`post_processor`) for the general pipeline: ByteLevel offset trimming,
//! RobertaProcessing, BertProcessing, TemplateProcessing, and a Sequence of them.
use crate::encoding::{CompactEncoding, Encoding};
use crate::error::{Error, Result};
use crate::postprocess::template::{Piece, Template};
use serde_json::Value;

/// What the post-processor does, in HF's order: trim offsets (ByteLevel / Roberta
/// `trim_offsets`), reset type ids (Roberta), then add special tokens with a template.
#[derive(Debug, Clone, Default)]
pub struct Processor {
    /// `Some(add_prefix_space)`: trim the offsets of byte-level tokens.
    pub trim: Option<bool>,
    /// Every type id is 0 (RobertaProcessing).
    pub zero_type_ids: bool,
    pub template: Option<Template>,
    /// Leading / trailing whitespace characters of each token id (see [`Self::index_tokens`];
    /// `u16::MAX`: count again from the token).
    spaces: std::sync::Arc<[(u16, u16)]>,
}

fn pair(v: &Value, k: &str) -> Result<(String, u32)> {
    let a = v.get(k).and_then(Value::as_array).filter(|a| a.len() == 2);
    let bad = || Error::invalid(format!("post_processor.{k} must be [token, id]"));
    let a = a.ok_or_else(bad)?;
    Ok((
        a[0].as_str().ok_or_else(bad)?.to_string(),
        a[1].as_u64().ok_or_else(bad)? as u32,
    ))
}

impl Processor {
    /// Parse a `post_processor` object (`Null` = none).
    pub fn from_json(v: &Value, template: &dyn Fn(&Value) -> Result<Template>) -> Result<Self> {
        let mut p = Processor::default();
        p.add(v, template)?;
        Ok(p)
    }

    fn set_template(&mut self, t: Template) -> Result<()> {
        if self.template.is_some() {
            return Err(Error::invalid("post_processor: only one template-like processor is supported in a Sequence"));
        }
        self.template = Some(t);
        Ok(())
    }

    fn add(&mut self, v: &Value, template: &dyn Fn(&Value) -> Result<Template>) -> Result<()> {
        if v.is_null() {
            return Ok(());
        }
        let flag = |k: &str, d: bool| v.get(k).and_then(Value::as_bool).unwrap_or(d);
        match v.get("type").and_then(Value::as_str) {
            Some("ByteLevel") => {
                if flag("trim_offsets", true) {
                    self.trim = Some(flag("add_prefix_space", true));
                }
            }
            Some("RobertaProcessing") => {
                if flag("trim_offsets", true) {
                    self.trim = Some(flag("add_prefix_space", true));
                }
                self.zero_type_ids = true;
                let (c, ci) = pair(v, "cls")?;
                let (s, si) = pair(v, "sep")?;
                let sp = |n: &str, id: u32| Piece::Special { name: n.to_string(), ids: vec![id], type_id: 0 };
                let seq = |s: u8| Piece::Sequence { seq: s, type_id: 0 };
                self.set_template(Template {
                    single: vec![sp(&c, ci), seq(0), sp(&s, si)],
                    pair: vec![sp(&c, ci), seq(0), sp(&s, si), sp(&s, si), seq(1), sp(&s, si)],
                })?;
            }
            Some("BertProcessing") | Some("TemplateProcessing") => self.set_template(template(v)?)?,
            Some("Sequence") => {
                for x in v
                    .get("processors")
                    .and_then(Value::as_array)
                    .ok_or_else(|| Error::invalid("post_processor Sequence needs \"processors\""))?
                {
                    self.add(x, template)?;
                }
            }
            Some(t) => return Err(Error::invalid(format!("post_processor {t:?} is not supported"))),
            None => return Err(Error::invalid("post_processor without a \"type\"")),
        }
        Ok(())
    }

    /// Precompute what offset trimming needs of each token of `table` (id -> token).
    pub fn index_tokens(&mut self, table: &[String]) {
        if self.trim.is_some() {
            let short = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
            self.spaces = table
                .iter()
                .map(|t| crate::bpe_tokenizer::space_runs(t))
                .map(|(a, b)| (short(a), short(b)))
                .collect();
        }
    }

    /// Special tokens the template adds.
    pub fn added_tokens(&self, is_pair: bool) -> usize {
        self.template.as_ref().map_or(0, |t| t.added_tokens(is_pair))
    }

    /// Trim offsets (`table`: id -> token string), then apply the template.
    pub fn process(
        &self,
        mut a: Encoding,
        mut b: Option<Encoding>,
        add_special_tokens: bool,
        table: &[String],
    ) -> Encoding {
        for e in std::iter::once(&mut a).chain(b.as_mut()) {
            self.prepare(e, table);
            for o in &mut e.overflowing {
                self.prepare(o, table);
            }
        }
        let t = self.template.as_ref().unwrap_or_else(|| Template::plain());
        t.apply(a, b, add_special_tokens)
    }
}

impl Processor {
    /// [`Self::process`] on borrowed encodings (trimmed in place); the result is a new one.
    pub fn process_ref(
        &self,
        a: &mut Encoding,
        mut b: Option<&mut Encoding>,
        add_special_tokens: bool,
        table: &[String],
    ) -> Encoding {
        if has_windows(a, b.as_deref()) {
            let b = b.map(|b| std::mem::take(b));
            return self.process(std::mem::take(a), b, add_special_tokens, table);
        }
        let t = self.prepare_both(a, b.as_deref_mut(), table);
        t.apply_ref(a, b.as_deref(), add_special_tokens)
    }

    /// [`Self::process_ref`] into the compact layout the bindings hold: written straight from
    /// the borrowed encodings when there are no overflow windows.
    pub fn process_compact(
        &self,
        a: &mut Encoding,
        mut b: Option<&mut Encoding>,
        add_special_tokens: bool,
        table: &[String],
    ) -> CompactEncoding {
        if has_windows(a, b.as_deref()) {
            return CompactEncoding::from(&self.process_ref(a, b, add_special_tokens, table));
        }
        let t = self.prepare_both(a, b.as_deref_mut(), table);
        t.apply_compact(a, b.as_deref(), add_special_tokens)
    }

    /// [`Self::prepare`] both sequences; the template to apply next.
    fn prepare_both(&self, a: &mut Encoding, b: Option<&mut Encoding>, table: &[String]) -> &Template {
        self.prepare(a, table);
        if let Some(b) = b {
            self.prepare(b, table);
        }
        self.template.as_ref().unwrap_or_else(|| Template::plain())
    }

    /// What the processor does to one encoding before its template: RobertaProcessing's type
    /// ids all 0, and trimmed offsets.
    fn prepare(&self, e: &mut Encoding, table: &[String]) {
        if self.zero_type_ids {
            e.type_ids.fill(0);
        }
        if let Some(prefix_space) = self.trim {
            for i in 0..e.ids.len() {
                let id = e.ids[i] as usize;
                let runs = match self.spaces.get(id) {
                    Some(&(a, b)) if a != u16::MAX && b != u16::MAX => (a as usize, b as usize),
                    _ => crate::bpe_tokenizer::space_runs(table.get(id).map_or("", String::as_str)),
                };
                crate::bpe_tokenizer::trim_by(runs, i == 0, prefix_space, &mut e.offsets[i]);
            }
        }
    }
}

fn has_windows(a: &Encoding, b: Option<&Encoding>) -> bool {
    !a.overflowing.is_empty() || b.is_some_and(|b| !b.overflowing.is_empty())
}
