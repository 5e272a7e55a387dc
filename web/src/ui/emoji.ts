// A small emoji set shipped with the app (no CDN, no innerHTML: safe under the CSP).
export const EMOJI_GROUPS: ReadonlyArray<{ id: string; label: { en: string; zh: string }; emoji: string }> = [
  { id: "smileys", label: { en: "Smileys", zh: "表情" },
    emoji: "😀 😃 😄 😁 😆 😅 😂 🤣 😊 😇 🙂 🙃 😉 😌 😍 🥰 😘 😗 😙 😚 😋 😛 😝 😜 🤪 🤨 🧐 🤓 😎 🥳 😏 😒 😞 😔 😟 😕 🙁 😣 😖 😫 😩 🥺 😢 😭 😤 😠 😡 🤯 😳 🥵 🥶 😱 😨 😰 😥 😓 🤗 🤔 🤭 🤫 🤥 😶 😐 😑 😬 🙄 😯 😦 😧 😮 😲 🥱 😴 🤤 😪 😵 🤐 🥴 🤢 🤮 🤧 😷 🤒 🤕" },
  { id: "gestures", label: { en: "People", zh: "手势" },
    emoji: "👋 🤚 🖐 ✋ 🖖 👌 🤌 🤏 ✌️ 🤞 🤟 🤘 🤙 👈 👉 👆 👇 ☝️ 👍 👎 ✊ 👊 🤛 🤜 👏 🙌 👐 🤲 🤝 🙏 💪 👀 🧠 🫶 🙋 🙇 🤷 🤦" },
  { id: "hearts", label: { en: "Hearts", zh: "爱心" },
    emoji: "❤️ 🧡 💛 💚 💙 💜 🖤 🤍 🤎 💔 ❣️ 💕 💞 💓 💗 💖 💘 💝 💯 💢 💥 💫 💦 💨 💬 💭 💤" },
  { id: "nature", label: { en: "Nature", zh: "自然" },
    emoji: "🐶 🐱 🐭 🐹 🐰 🦊 🐻 🐼 🐨 🐯 🦁 🐮 🐷 🐸 🐵 🐔 🐧 🐦 🐤 🦆 🦉 🐴 🦄 🐝 🦋 🐌 🐞 🐢 🐍 🐙 🐬 🐳 🌸 🌹 🌻 🌼 🌷 🌱 🌲 🌴 🍀 🍁 🌈 ☀️ 🌙 ⭐ 🔥 ❄️ ⛄ 🌊" },
  { id: "food", label: { en: "Food", zh: "食物" },
    emoji: "🍏 🍎 🍐 🍊 🍋 🍌 🍉 🍇 🍓 🍒 🍑 🥭 🍍 🥝 🍅 🥑 🌽 🥕 🍞 🧀 🍳 🍔 🍟 🍕 🌭 🥪 🌮 🍜 🍝 🍣 🍤 🍙 🍚 🥟 🍦 🍰 🎂 🍫 🍬 🍭 ☕ 🍵 🧋 🍺 🍻 🥂 🍷" },
  { id: "activities", label: { en: "Activities", zh: "活动" },
    emoji: "⚽ 🏀 🏈 ⚾ 🎾 🏐 🏓 🏸 🥊 🎯 🎳 🎮 🎲 🧩 🎨 🎬 🎤 🎧 🎸 🎹 🎺 🎻 🏆 🥇 🎉 🎊 🎁 🎈 🧧 🏮" },
  { id: "objects", label: { en: "Objects", zh: "物品" },
    emoji: "📱 💻 ⌨️ 🖥 📷 📞 ⏰ ⌛ 💡 🔦 📚 📖 ✏️ 📝 📌 📎 ✂️ 🔒 🔑 🔨 🧰 💰 💳 ✉️ 📦 🚗 🚕 🚌 🚲 ✈️ 🚀 🏠 🏢 ⛺ 🗺 ✅ ❌ ❓ ❗ ⚠️ 🆗 🆒 🆕" },
].map((g) => ({ ...g, emoji: g.emoji }));

export function emojiList(group: string): string[] {
  return (EMOJI_GROUPS.find((g) => g.id === group)?.emoji ?? "").split(" ").filter(Boolean);
}
