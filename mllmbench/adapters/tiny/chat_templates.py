"""The chat templates of the real hub checkpoints, given to the tiny checkpoints.

Each tiny processor carries the template of the checkpoints it stands in for, so a test sees the
prompts a real checkpoint would. (Templates an adapter applies itself, because the processor
cannot carry one, stay with the adapter: IDEFICS v1, Chameleon.)
"""

from __future__ import annotations

LLAVA_15_CHAT_TEMPLATE = (
    r"{% for message in messages %}{% if message['role'] != 'system' %}"
    r"{{ message['role'].upper() + ': '}}{% endif %}"
    r"{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}"
    r"{{ '<image>\n' }}{% endfor %}"
    r"{% if message['role'] != 'assistant' %}"
    r"{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    r"{{ content['text'] + ' '}}{% endfor %}"
    r"{% else %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    r"{% generation %}{{ content['text'] + ' '}}{% endgeneration %}{% endfor %}{% endif %}"
    r"{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)
"""The chat template of the llava-1.5-hf checkpoints, given to the tiny checkpoint."""

LLAVA_NEXT_MISTRAL_CHAT_TEMPLATE = (
    r"{% for message in messages %}{% if message['role'] == 'system' %}"
    r"{{ '<<SYS>>\n' + message['content'][0]['text'] + '\n<</SYS>>\n\n' }}"
    r"{% elif message['role'] == 'user' %}{{ '[INST] ' }}"
    r"{# Render all images first #}"
    r"{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}"
    r"{# Render all text next #}"
    r"{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] }}{% endfor %}"
    r"{{' [/INST]' }}"
    r"{% elif message['role'] == 'assistant' %}{{ ' ' + message['content'][0]['text'] + '</s> '}}"
    r"{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"
)
"""The chat template of llava-hf/llava-v1.6-mistral-7b-hf, given to the tiny checkpoint."""

QWEN2_VL_CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
"""The chat template of the Qwen2-VL and Qwen2.5-VL Instruct checkpoints (the same for both)."""

IDEFICS2_CHAT_TEMPLATE = (
    "{% for message in messages %}{{message['role'].capitalize()}}"
    "{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}"
    "<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)
"""The chat template of the idefics2-8b checkpoints, given to the tiny checkpoint."""

IDEFICS3_CHAT_TEMPLATE = (
    "<|begin_of_text|>{% for message in messages %}{{message['role'].capitalize()}}"
    "{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}"
    "<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)
"""The chat template of the Idefics3-8B-Llama3 checkpoint, given to the tiny checkpoint."""

LLAMA_32_VISION_CHAT_TEMPLATE = (
    "{{- bos_token }}"
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|start_header_id|>system<|end_header_id|>\\n\\n' + messages[0]['content'] | trim + '<|eot_id|>' }}"
    "{%- set messages = messages[1:] %}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}"
    "{%- if message['content'] is string %}{{- message['content'] | trim }}"
    "{%- else %}{%- for content in message['content'] %}"
    "{%- if content['type'] == 'image' %}{{- '<|image|>' }}"
    "{%- elif content['type'] == 'text' %}{{- content['text'] | trim }}{%- endif %}"
    "{%- endfor %}{%- endif %}"
    "{{- '<|eot_id|>' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
)
"""The tiny checkpoint's chat template: what Llama-3.2-11B-Vision-Instruct's renders for image prompts.

``<|begin_of_text|><|start_header_id|>user<|end_header_id|>\\n\\n<|image|>{text}<|eot_id|>``
``<|start_header_id|>assistant<|end_header_id|>\\n\\n`` (the hub template adds a dated system
block only to prompts without images, and tool-calling parts, which this one leaves out).
"""

JANUS_CHAT_TEMPLATE = (
    "{%set seps=['\\n\\n','<\uff5cend\u2581of\u2581sentence\uff5c>']%}"
    "{%for message in messages%}"
    "{%if message['role']|lower=='user'%}<|User|>: "
    "{%elif message['role']|lower=='assistant'%}<|Assistant|>:"
    "{%if not (loop.last and not add_generation_prompt and message['content'][0]['type']=='text' "
    "and message['content'][0]['text']=='')%} {%endif%}"
    "{%else%}{{message['role'].capitalize()}}: {%endif%}"
    "{%for content in message['content']%}"
    "{%if content['type']=='image'%}"
    "{%if not loop.first%}{{'\\n'}}{%endif%}<image_placeholder>{%if not loop.last%}{{'\\n'}}{%endif%}"
    "{%elif content['type']=='text'%}"
    "{%set text=content['text']%}"
    "{%if loop.first%}{%set text=text.lstrip()%}{%endif%}"
    "{%if loop.last%}{%set text=text.rstrip()%}{%endif%}"
    "{%if not loop.first and message['content'][loop.index0-1]['type']=='text'%}{{' '+text}}"
    "{%else%}{{text}}{%endif%}"
    "{%endif%}"
    "{%endfor%}"
    "{%if not loop.last or add_generation_prompt%}"
    "{%if message['role']|lower=='user'%}{{seps[0]}}{%else%}{{seps[1]}}{%endif%}"
    "{%endif%}"
    "{%endfor%}"
    "{%if add_generation_prompt%}<|Assistant|>:{%endif%}"
)
"""The chat template transformers' Janus conversion gives the hub checkpoints (the tiny one uses it too)."""

ZEPHYR_CHAT_TEMPLATE = (
    "{% for message in messages %}\n"
    "{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n"
    "{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}"
)
"""The chat template of TinyLlama-1.1B-Chat (Zephyr style), given to the tiny text LLM."""

EMU3_CHAT_TEMPLATE = (
    r"{% for message in messages %}{% if message['role'] == 'system' %}"
    r"{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    r"{{ content['text'] + ' ' }}{% endfor %}"
    r"{% else %}{{ message['role'].upper() + ': ' }}"
    r"{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}"
    r"{{ '<image>' }}{% endfor %}"
    r"{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    r"{{ content['text'] }}{% endfor %}{{ ' ' }}"
    r"{% endif %}{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)
"""Emu3-Chat's prompt layout as transformers' model documentation shows it (``[system ]USER:
<image>{text} ASSISTANT:``); written here from that example, not copied from a hub file."""
