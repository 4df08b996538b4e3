"""Hugging Face models as a user hands them to accelsim, unchanged: ``module:function`` references.

    accelsim trace --model benchmarks/hf_models.py:bert_base --input-ids 1,128
    accelsim run --hw nm_tensor_core --model benchmarks/hf_models.py:gpt2 --input-ids 1,128

Built from their configs with random weights (no download); transformers is a test-only extra.
"""

import transformers as tf


def bert_base():
    return tf.BertModel(tf.BertConfig())


def gpt2():
    return tf.GPT2LMHeadModel(tf.GPT2Config())


def llama_small():
    config = tf.LlamaConfig(hidden_size=1024, intermediate_size=2816, num_hidden_layers=8,
                            num_attention_heads=16, num_key_value_heads=4, vocab_size=32000)
    return tf.LlamaForCausalLM(config)


def vit_base():
    return tf.ViTModel(tf.ViTConfig())
